"""The terminal progress line, and that prune feeds it while SQLite works."""

from __future__ import annotations

import io
import re

from clickclack_sdk.cli._admin import _prune
from clickclack_sdk.cli._common import Progress
from tests.cli.conftest import Booted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal() -> None:
    piped = io.StringIO()
    quiet = Progress("export", stream=piped, interval=0)
    quiet.update(1, 10, "rows")
    quiet.tick()
    quiet.finish("exported 10 rows")
    assert piped.getvalue() == ""

    screen = Terminal()
    meter = Progress("export", stream=screen, interval=0)
    meter.update(5, 10, "rows")
    assert screen.getvalue().endswith("export: 5/10 rows (50%)")
    meter.update(7)
    assert screen.getvalue().endswith("export: 7")
    meter.tick()
    assert re.search(r"\rexport: \d+\.\ds$", screen.getvalue().replace("\x1b[K", ""))
    meter.finish("exported 10 rows")
    assert screen.getvalue().endswith("\r\x1b[Kexport: exported 10 rows\n")


def test_progress_is_throttled() -> None:
    screen = Terminal()
    meter = Progress("backup", stream=screen, interval=3600)
    for done in range(1, 1001):
        meter.update(done, 1000, "pages")
    assert screen.getvalue().count("backup:") == 1  # drawn once, then throttled
    meter.finish()
    assert screen.getvalue().endswith("\r\x1b[K")


def test_prune_deletes_in_batches_and_reports_each(booted: Booted) -> None:
    from clickclack_server.db import Database, Tx
    from clickclack_server.store.events import insert_event

    database = Database(booted.data.db_path, readers=1)
    try:

        def seed(tx: Tx) -> list[str]:
            return [
                insert_event(
                    tx,
                    workspace_id=booted.workspace_id,
                    type="channel.read",
                    payload={"index": index},
                    recipients=[booted.owner_id],
                ).cursor
                for index in range(3000)
            ]

        cursors = database.write_sync(seed)
        reported: list[int] = []
        commits: list[int] = []

        class Recorder(Progress):
            def update(self, done: int, total: int | None = None, unit: str = "") -> None:
                reported.append(done)
                # Each batch is committed before it is reported: the rows are gone for others.
                commits.append(
                    database.read_sync(lambda tx: int(tx.scalar("SELECT count(*) FROM events")))
                )

        pruned = _prune(
            database,
            workspace="clickclack",
            older_than_days=None,
            before="2999-01-01T00:00:00Z",
            keep_latest=7,
            progress=Recorder("pruning events"),
            batch=1000,
        )
        assert pruned == 2993
        assert reported == [1000, 2000, 2993]
        assert commits == [2000, 1000, 7]
        remaining = database.read_sync(
            lambda tx: [row[0] for row in tx.all("SELECT cursor FROM events ORDER BY cursor")]
        )
        assert remaining == cursors[-7:]
        assert (
            database.read_sync(lambda tx: tx.scalar("SELECT count(*) FROM event_recipients")) == 7
        )
    finally:
        database.close()
