"""``clickclack admin sessions revoke`` and ``admin invite revoke``: end sign-in credentials.

The operator's tools for credentials that may have leaked, or that were minted before secrets
came from ``secrets`` alone (docs/server.md, "Replacing credentials"): revoke every session
(everyone signs in again) together with pending magic links, or one user's sessions; delete the
unaccepted invites. Bot tokens and signing secrets are rotated over the API (the docs say how).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from clickclack_sdk.cli._admin import invite_app, resolve_user, sub_app
from clickclack_sdk.cli._common import (
    ConfigOpt,
    DataOpt,
    DbOpt,
    open_admin_database,
    reported_errors,
    usage,
)

if TYPE_CHECKING:
    from clickclack_server.db import Tx

sessions_app = sub_app("Revoke sign-in sessions.")


def _revoke_sessions(tx: Tx, *, user: str | None) -> tuple[int, int]:
    from clickclack_server.store.auth import expire_magic_links
    from clickclack_server.store.sessions import revoke_all_sessions

    if user is not None:
        row = resolve_user(tx, user, "--user")
        return revoke_all_sessions(tx, user_id=str(row["id"])), 0
    return revoke_all_sessions(tx), expire_magic_links(tx)


@sessions_app.command("revoke")
def sessions_revoke_command(
    all_users: Annotated[
        bool, typer.Option("--all", help="Every user's sessions and pending magic links.")
    ] = False,
    user: Annotated[
        str | None, typer.Option(help="Only this user's sessions (id or email).")
    ] = None,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke live sessions: with --all everyone's (and every pending magic link), with --user
    one user's.

    Prints `revoked N sessions, M magic links`. Revoked users sign in again (a new magic link).
    A running server stops accepting the sessions within seconds (its auth cache forgets).
    """
    with reported_errors():
        if all_users == (user is not None):
            raise usage("give exactly one of --all or --user")
        with open_admin_database(data, db, config) as database:
            sessions, links = database.write_sync(_revoke_sessions, user=user)
    typer.echo(f"revoked {sessions} sessions, {links} magic links")


def _delete_invites(tx: Tx) -> int:
    cursor = tx.execute("DELETE FROM invites WHERE accepted_at IS NULL")
    return cursor.rowcount


@invite_app.command("revoke")
def invite_revoke_command(
    all_invites: Annotated[bool, typer.Option("--all", help="Every unaccepted invite.")] = False,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete every unaccepted invite token (--all is required).

    Prints `revoked N invites`.
    """
    with reported_errors():
        if not all_invites:
            raise usage("--all is required (invites are revoked all at once)")
        with open_admin_database(data, db, config) as database:
            count = database.write_sync(_delete_invites)
    typer.echo(f"revoked {count} invites")
