"""``clickclack admin slash-command ...``: register slash commands from the server's machine.

The HTTP registration endpoint (protocol 3.15) needs a human manager's session; on the
machine that holds the database an operator can register directly, as ``admin bot create``
mints bot tokens. The one-time signing secret is printed for the bot's
``CLICKCLACK_CALLBACK_SECRET``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clickclack_sdk.cli._admin import (
    require_manager,
    resolve_user,
    resolve_workspace,
    sub_app,
    workspace_owner,
)
from clickclack_sdk.cli._common import (
    CliError,
    ConfigOpt,
    DataOpt,
    DbOpt,
    not_found,
    open_admin_database,
    reported_errors,
    usage,
)

if TYPE_CHECKING:
    from clickclack_server.db import Tx

slash_command_app = sub_app("Register slash commands served by bots.")


def resolve_bot(tx: Tx, workspace_id: str, ref: str) -> str:
    """A bot member of the workspace by id (``usr_...``) or handle (``@deployer``)."""
    ref = ref.strip()
    if not ref:
        raise usage("--bot must not be empty")
    handle = ref.removeprefix("@").lower()
    row = tx.one(
        "SELECT u.id, u.kind FROM users u JOIN workspace_members m ON m.user_id = u.id "
        "WHERE m.workspace_id = ? AND (u.id = ? OR u.handle = ?) AND u.deleted_at IS NULL",
        (workspace_id, ref, handle),
    )
    if row is None:
        raise not_found(f"--bot: no bot {ref} in workspace {workspace_id}")
    if row["kind"] != "bot":
        raise CliError(f"--bot: {ref} is a person, not a bot")
    return str(row["id"])


def _create(
    tx: Tx,
    *,
    workspace: str,
    command: str,
    bot: str,
    callback_url: str,
    description: str,
    created_by: str | None,
    replace: bool,
) -> dict[str, Any]:
    from clickclack_sdk import to_data
    from clickclack_server.store import integrations

    workspace_id = resolve_workspace(tx, workspace)
    actor = (
        resolve_user(tx, created_by, "--created-by")["id"]
        if created_by is not None
        else workspace_owner(tx, workspace_id)
    )
    require_manager(tx, workspace_id, actor, "--created-by")
    bot_id = resolve_bot(tx, workspace_id, bot)
    name = integrations.normalize_command(command)
    existing = tx.scalar(
        "SELECT id FROM slash_commands WHERE workspace_id = ? AND command = ? "
        "AND revoked_at IS NULL",
        (workspace_id, name),
    )
    if existing is not None:
        if not replace:
            raise CliError(
                f"{name} is already registered ({existing}); --replace revokes it and "
                "registers again"
            )
        integrations.revoke_slash_command(tx, existing, actor)
    created = integrations.create_slash_command(
        tx,
        workspace_id,
        actor,
        command=name,
        callback_url=callback_url,
        bot_user_id=bot_id,
        description=description,
    )
    return {"slash_command": to_data(created)}


@slash_command_app.command("create")
def slash_command_create_command(
    workspace: Annotated[str, typer.Option(help="Workspace id or slug.")],
    command: Annotated[str, typer.Option(help="The command, e.g. /deploy.")],
    bot: Annotated[str, typer.Option(help="The bot that answers (user id or @handle).")],
    callback_url: Annotated[
        str, typer.Option(help="Where the bot serves callbacks, e.g. http://host:8787/clickclack.")
    ],
    description: Annotated[str, typer.Option(help="Shown in command menus.")] = "",
    created_by: Annotated[
        str | None,
        typer.Option(help="Acting owner or moderator (id or email); default: the owner."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Revoke an active command of that name first.")
    ] = False,
    plain: Annotated[bool, typer.Option("--plain", help="Print only the signing secret.")] = False,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Register a slash command answered by a bot's callback endpoint.

    Prints one JSON line {"slash_command"} holding the one-time signing_secret, or with
    --plain only the secret. Give the secret to the bot (clickclack bot run
    --callback-addr ... with CLICKCLACK_CALLBACK_SECRET). A server started without
    --dev-bootstrap refuses loopback and private callback URLs unless allow_private_callbacks
    is set.
    """
    with reported_errors():
        from clickclack_server.errors import Invalid
        from clickclack_server.store.integrations import normalize_callback_url, normalize_command

        try:
            normalize_command(command)
        except Invalid as exc:
            raise usage(f"--command: {exc.message}") from None
        try:
            normalize_callback_url(callback_url)
        except Invalid as exc:
            raise usage(f"--callback-url: {exc.message}") from None
        with open_admin_database(data, db, config) as database:
            document: dict[str, Any] = database.write_sync(
                _create,
                workspace=workspace,
                command=command,
                bot=bot,
                callback_url=callback_url,
                description=description,
                created_by=created_by,
                replace=replace,
            )
    secret = str(document["slash_command"]["signing_secret"])
    typer.echo(secret if plain else json.dumps(document, separators=(",", ":"), ensure_ascii=False))
