"""``clickclack admin ...``: operator commands that work on the database file directly.

They need no running server (and are safe next to one: SQLite serialises the writes, and the
server's auth cache forgets within seconds). Each command opens the configured database, applies
pending migrations, does its work in one transaction and prints one documented line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clickclack_sdk.cli._common import (
    MAX_DISPLAY_NAME_BYTES,
    CliError,
    ConfigOpt,
    DataOpt,
    DbOpt,
    Progress,
    check_display_name,
    check_email,
    not_found,
    open_admin_database,
    reported_errors,
    usage,
)

if TYPE_CHECKING:
    import sqlite3

    from clickclack_server.db import Tx


def sub_app(help_text: str) -> typer.Typer:
    """A command group with the same plain help formatting as the root app."""
    return typer.Typer(help=help_text, add_completion=False, rich_markup_mode=None)


admin_app = sub_app("Administer the database directly; no running server is needed.")
user_app = sub_app("Create users.")
member_app = sub_app("Manage workspace memberships.")
invite_app = sub_app("Mint and revoke workspace invite tokens.")
bot_app = sub_app("Create bots and their tokens.")
magic_link_app = sub_app("Mint magic-link sign-in tokens.")
events_app = sub_app("Maintain the durable realtime event log.")
admin_app.add_typer(user_app, name="user")
admin_app.add_typer(member_app, name="member")
admin_app.add_typer(invite_app, name="invite")
admin_app.add_typer(bot_app, name="bot")
admin_app.add_typer(magic_link_app, name="magic-link")
admin_app.add_typer(events_app, name="events")

MEMBER_ROLES = ("member", "moderator")
MANAGER_ROLES = ("owner", "moderator")


# Lookups shared by the commands (all inside the command's transaction).


def resolve_workspace(tx: Tx, ref: str) -> str:
    """A workspace id from ``--workspace``: an id (``wsp_...``) or a slug."""
    ref = ref.strip()
    if not ref:
        raise usage("--workspace must not be empty")
    for column, value in (("id", ref), ("slug", ref.lower())):
        found: str | None = tx.scalar(f"SELECT id FROM workspaces WHERE {column} = ?", (value,))
        if found is not None:
            return found
    raise not_found(f"workspace not found: {ref}")


def resolve_user(tx: Tx, ref: str, flag: str) -> sqlite3.Row:
    """The live user a flag names, by id (``usr_...``) or by email."""
    from clickclack_server.store.users import find_user_by_email

    ref = ref.strip()
    if not ref:
        raise usage(f"{flag} must not be empty")
    user_id = ref
    if "@" in ref:
        found = find_user_by_email(tx, ref)
        if found is None:
            raise not_found(f"{flag}: no user with email {ref.lower()}")
        user_id = found.id
    row = tx.one("SELECT id, kind, deleted_at FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise not_found(f"{flag}: user not found: {ref}")
    if row["deleted_at"] is not None:
        raise CliError(f"{flag}: user {row['id']} is deleted")
    return row


def member_role(tx: Tx, workspace_id: str, user_id: str) -> str | None:
    role: str | None = tx.scalar(
        "SELECT role FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, user_id),
    )
    return role


def require_manager(tx: Tx, workspace_id: str, user_id: str, flag: str) -> None:
    if member_role(tx, workspace_id, user_id) not in MANAGER_ROLES:
        raise CliError(
            f"{flag} {user_id} must be an owner or moderator of workspace {workspace_id}"
        )


def workspace_owner(tx: Tx, workspace_id: str) -> str:
    """The workspace's (earliest) owner, the default actor of admin commands."""
    owner: str | None = tx.scalar(
        "SELECT user_id FROM workspace_members WHERE workspace_id = ? AND role = 'owner' "
        "ORDER BY created_at, user_id LIMIT 1",
        (workspace_id,),
    )
    if owner is None:
        raise not_found(f"workspace {workspace_id} has no owner; pass --created-by")
    return owner


# admin bootstrap


@admin_app.command("bootstrap")
def bootstrap_command(
    name: Annotated[str, typer.Option(help="Display name of the first user.")] = "Owner",
    email: Annotated[str, typer.Option(help="Email of the first user (optional).")] = "",
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create the first user, workspace and #general.

    Prints the first user's usr_... id. Idempotent: when a user exists already, prints the
    first user's id and changes nothing.
    """
    with reported_errors():
        display_name = check_display_name(name, default="Owner")
        address = check_email(email) if email.strip() else ""
        with open_admin_database(data, db, config) as database:
            from clickclack_server.store.users import bootstrap

            result = database.write_sync(bootstrap, name=display_name, email=address)
    typer.echo(result.user_id)


# admin user create


def _create_user(tx: Tx, *, name: str, email: str, workspace: str | None) -> str:
    from clickclack_server.store.users import add_member, create_user, find_user_by_email

    workspace_id = resolve_workspace(tx, workspace) if workspace is not None else None
    if email:
        existing = find_user_by_email(tx, email)
        if existing is not None:
            raise CliError(f"a user with email {email} already exists: {existing.id}")
    user = create_user(tx, display_name=name, email=email)
    if workspace_id is not None:
        add_member(tx, workspace_id, user.id, "member")
    return user.id


@user_app.command("create")
def user_create_command(
    name: Annotated[str, typer.Option(help="Display name.")] = "Local User",
    email: Annotated[str, typer.Option(help="Email address (optional; unique).")] = "",
    workspace: Annotated[
        str | None,
        typer.Option(help="Also add the user to this workspace (id or slug) as a member."),
    ] = None,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a human user.

    Prints the new usr_... id. With --workspace the user also joins that workspace as a member.
    """
    with reported_errors():
        display_name = check_display_name(name, default="Local User")
        address = check_email(email) if email.strip() else ""
        with open_admin_database(data, db, config) as database:
            user_id = database.write_sync(
                _create_user, name=display_name, email=address, workspace=workspace
            )
    typer.echo(user_id)


# admin member add


def _add_member(
    tx: Tx, *, workspace: str, created_by: str, email: str, user: str, role: str
) -> tuple[str, str, str, bool]:
    from clickclack_server.store.users import add_member, find_user_by_email

    workspace_id = resolve_workspace(tx, workspace)
    actor = resolve_user(tx, created_by, "--created-by")
    require_manager(tx, workspace_id, actor["id"], "--created-by")
    if email:
        found = find_user_by_email(tx, email)
        if found is None:
            raise not_found(
                f"no user with email {email}; create one with: clickclack admin user create "
                f"--email {email} --workspace {workspace_id}"
            )
        target = resolve_user(tx, found.id, "--email")
    else:
        target = resolve_user(tx, user, "--user")
    if target["kind"] == "bot":
        raise CliError(f"{target['id']} is a bot; bots join workspaces through admin bot create")
    added = add_member(tx, workspace_id, target["id"], role)
    current = member_role(tx, workspace_id, target["id"])
    assert current is not None
    return workspace_id, target["id"], current, added


@member_app.command("add")
def member_add_command(
    workspace: Annotated[str, typer.Option(help="Workspace id or slug.")],
    created_by: Annotated[
        str, typer.Option(help="Acting owner or moderator of the workspace (user id or email).")
    ],
    email: Annotated[str, typer.Option(help="Email of the existing user to add.")] = "",
    user: Annotated[str, typer.Option(help="Id of the existing user to add.")] = "",
    role: Annotated[str, typer.Option(help="member or moderator.")] = "member",
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add an existing user to a workspace.

    Name the user with exactly one of --email or --user. Prints workspace=<id> user=<id>
    role=<role> status=added|already_member; an existing membership keeps its role.
    """
    with reported_errors():
        if bool(email.strip()) == bool(user.strip()):
            raise usage("exactly one of --email or --user is required")
        address = check_email(email) if email.strip() else ""
        role = role.strip().lower()
        if role not in MEMBER_ROLES:
            raise usage(
                "--role must be member or moderator (owner, guest and bot come from other flows)"
            )
        with open_admin_database(data, db, config) as database:
            workspace_id, user_id, current, added = database.write_sync(
                _add_member,
                workspace=workspace,
                created_by=created_by,
                email=address,
                user=user,
                role=role,
            )
    status = "added" if added else "already_member"
    typer.echo(f"workspace={workspace_id} user={user_id} role={current} status={status}")


# admin invite create


def _create_invite(tx: Tx, *, workspace: str) -> str:
    from clickclack_server import ids

    workspace_id = resolve_workspace(tx, workspace)
    first: str | None = tx.scalar("SELECT id FROM users ORDER BY created_at, id LIMIT 1")
    if first is None:
        raise not_found("no users yet; run clickclack admin bootstrap first")
    token = ids.new_secret("ivt")
    tx.execute(
        "INSERT INTO invites (id, workspace_id, token_hash, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (ids.new_id("inv"), workspace_id, ids.hash_token(token), first, ids.now()),
    )
    return token


@invite_app.command("create")
def invite_create_command(
    workspace: Annotated[str, typer.Option(help="Workspace id or slug.")],
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Mint a workspace invite token.

    Prints the ivt_... token; only its hash is stored. The invite is created by the first user
    in the database. No HTTP endpoint consumes invites yet.
    """
    with reported_errors(), open_admin_database(data, db, config) as database:
        token = database.write_sync(_create_invite, workspace=workspace)
    typer.echo(token)


# admin bot create


def _create_bot(
    tx: Tx,
    *,
    workspace: str,
    created_by: str | None,
    owner: str | None,
    name: str,
    handle: str,
    avatar_url: str,
    token_name: str,
    scopes: list[str],
) -> tuple[str, str]:
    """The JSON line to print and the raw token."""
    from clickclack_sdk import to_data
    from clickclack_server.store.bots import create_bot

    workspace_id = resolve_workspace(tx, workspace)
    owner_id = resolve_user(tx, owner, "--owner")["id"] if owner is not None else None
    if created_by is not None:
        creator = resolve_user(tx, created_by, "--created-by")["id"]
    elif owner_id is not None:
        creator = owner_id
    else:
        creator = workspace_owner(tx, workspace_id)
    if owner_id is None:
        require_manager(tx, workspace_id, creator, "--created-by")
    bot, token = create_bot(
        tx,
        workspace_id=workspace_id,
        created_by=creator,
        display_name=name,
        handle=handle,
        avatar_url=avatar_url,
        owner_user_id=owner_id,
        token_name=token_name,
        scopes=scopes,
    )
    assert token is not None and token.token is not None
    document = {"bot": to_data(bot), "bot_token": to_data(token), "token": token.token}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False), token.token


@bot_app.command("create")
def bot_create_command(
    workspace: Annotated[str, typer.Option(help="Workspace id or slug.")],
    name: Annotated[str, typer.Option(help="Bot display name.")],
    created_by: Annotated[
        str | None,
        typer.Option(
            help="Acting user (id or email); default: --owner for a user-owned bot, else the "
            "workspace owner."
        ),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(
            help="Human owner (id or email) for a user-owned bot; omit for a service bot."
        ),
    ] = None,
    handle: Annotated[str, typer.Option(help="Bot handle, e.g. deploy-bot.")] = "",
    avatar_url: Annotated[str, typer.Option(help="Avatar URL (http(s) or /api/uploads/...).")] = "",
    token_name: Annotated[str, typer.Option(help="Label of the first token.")] = "default",
    scopes: Annotated[
        str,
        typer.Option(help="Comma-separated scopes or bundles (bot:read, bot:write, bot:admin)."),
    ] = "bot:write",
    plain: Annotated[
        bool, typer.Option("--plain", help="Print only the raw ccb_... token.")
    ] = False,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a bot and mint its first scoped token.

    The bot is a kind=bot user added to the workspace with role bot. Prints one JSON line
    {"bot", "bot_token", "token"}, or with --plain only the raw ccb_... token.
    """
    with reported_errors():
        display_name = name.strip()
        if not display_name:
            raise usage("--name must not be empty")
        if len(display_name.encode()) > MAX_DISPLAY_NAME_BYTES:
            raise usage(f"--name must be at most {MAX_DISPLAY_NAME_BYTES} bytes")
        if len(token_name.strip().encode()) > MAX_DISPLAY_NAME_BYTES:
            raise usage(f"--token-name must be at most {MAX_DISPLAY_NAME_BYTES} bytes")
        from clickclack_server.auth import expand_scopes
        from clickclack_server.errors import Invalid
        from clickclack_server.text import normalize_handle

        try:
            expand_scopes([scopes])
        except Invalid as exc:
            raise usage(f"--scopes: {exc.message}") from None
        try:
            normalize_handle(handle)
        except Invalid as exc:
            raise usage(f"--handle: {exc.message}") from None
        with open_admin_database(data, db, config) as database:
            line, token = database.write_sync(
                _create_bot,
                workspace=workspace,
                created_by=created_by,
                owner=owner,
                name=display_name,
                handle=handle,
                avatar_url=avatar_url,
                token_name=token_name,
                scopes=[scopes],
            )
    typer.echo(token if plain else line)


# admin magic-link create


@magic_link_app.command("create")
def magic_link_create_command(
    email: Annotated[str, typer.Option(help="Email address the link signs in.")],
    name: Annotated[str, typer.Option(help="Display name for a user created on first use.")] = "",
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Mint a one-time magic-link sign-in token.

    Prints the mgt_... token, valid for 15 minutes. The user trades it for a session at
    POST /api/auth/magic/consume (or with clickclack login).
    """
    with reported_errors():
        address = check_email(email)
        display_name = name.strip()
        if len(display_name.encode()) > MAX_DISPLAY_NAME_BYTES:
            raise usage(f"--name must be at most {MAX_DISPLAY_NAME_BYTES} bytes")
        with open_admin_database(data, db, config) as database:
            from clickclack_server.store.auth import create_magic_link

            _link, token = database.write_sync(
                create_magic_link, email=address, display_name=display_name
            )
    typer.echo(token)


# admin events prune


PRUNE_BATCH = 5_000
"""Events deleted per transaction: a running server's writes wait at most one batch."""


def _prune_bounds(
    tx: Tx,
    *,
    workspace: str,
    older_than_days: int | None,
    before: str | None,
    keep_latest: int | None,
) -> tuple[str, Any]:
    from clickclack_server.store.realtime import prune_bounds

    workspace_id = resolve_workspace(tx, workspace)
    bounds = prune_bounds(
        tx,
        workspace_id,
        older_than_days=older_than_days,
        before=before,
        keep_latest=keep_latest,
    )
    return workspace_id, bounds


def _prune(
    database: Any,
    *,
    workspace: str,
    older_than_days: int | None,
    before: str | None,
    keep_latest: int | None,
    progress: Progress,
    batch: int = PRUNE_BATCH,
) -> int:
    """Fix the cutoffs once, then delete in batches of ``batch`` events, each its own
    transaction, so a server using the database keeps writing in between."""
    from clickclack_server.store.realtime import prune_batch

    workspace_id, bounds = database.write_sync(
        _prune_bounds,
        workspace=workspace,
        older_than_days=older_than_days,
        before=before,
        keep_latest=keep_latest,
    )
    total = 0
    while True:
        count: int = database.write_sync(prune_batch, workspace_id, bounds, limit=batch)
        total += count
        progress.update(total, unit="events")
        if count < batch:
            return total


@events_app.command("prune")
def events_prune_command(
    workspace: Annotated[str, typer.Option(help="Workspace id or slug.")],
    older_than_days: Annotated[
        int | None, typer.Option(min=1, help="Delete events older than this many days.")
    ] = None,
    before: Annotated[
        str | None, typer.Option(help="Delete events created before this RFC 3339 time.")
    ] = None,
    keep_latest: Annotated[
        int | None,
        typer.Option(min=0, help="Always keep the newest N events, whatever their age."),
    ] = None,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete old durable realtime events of a workspace.

    Prints pruned <n> events. At least one bound is required; --older-than-days and --before
    exclude each other; --keep-latest keeps the newest N events by cursor even when older than
    the cutoff. Clients whose cursor was pruned resync through the REST API.
    """
    with reported_errors():
        keep = keep_latest or None
        if older_than_days is None and before is None and keep is None:
            raise usage("one of --older-than-days, --before or --keep-latest N (N > 0) is required")
        if older_than_days is not None and before is not None:
            raise usage("--older-than-days and --before are mutually exclusive")
        if before is not None:
            from clickclack_server.ids import parse_rfc3339_ns

            try:
                parse_rfc3339_ns(before)
            except ValueError:
                raise usage(f"--before must be an RFC 3339 timestamp, got {before!r}") from None
        progress = Progress("pruning events")
        try:
            with open_admin_database(data, db, config) as database:
                count = _prune(
                    database,
                    workspace=workspace,
                    older_than_days=older_than_days,
                    before=before,
                    keep_latest=keep,
                    progress=progress,
                )
        finally:
            progress.finish()
    typer.echo(f"pruned {count} events")
