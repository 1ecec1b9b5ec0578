"""Local-disk blob store for upload bytes (protocol 3.11).

Bytes live under ``<uploads dir>/upload-<random>``; the key (never the client's filename) is what
the database records. A write goes to a hidden temporary file in the same directory and is renamed
into place only once every byte is on disk, so a reader never sees a half-written blob and a
failed or cancelled upload leaves nothing behind. Only a crash can: a temporary file, or a blob
whose database row was never written (or whose rows were deleted before the file was);
:func:`remove_leftovers` clears those when the server starts.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat as stat_module
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs
import trio

log = logging.getLogger("clickclack_server")

KEY_PREFIX = "upload-"
_KEY = re.compile(r"^upload-[0-9a-f]{32}$")
_TEMP_PREFIX = ".partial-"
_TEMP = re.compile(r"^\.partial-upload-[0-9a-f]{32}$")
WRITE_BUFFER = 1 << 20
LEFTOVER_MIN_AGE = 15 * 60.0
"""Seconds since its last change before a leftover file may be removed at start-up: another
process sharing the directory (an overlapping restart) may still be writing or recording it."""


def new_key() -> str:
    """A fresh random storage key (128 bits)."""
    return KEY_PREFIX + secrets.token_hex(16)


def is_key(value: str) -> bool:
    """Whether ``value`` is a key this store could have produced (no paths, no traversal)."""
    return _KEY.fullmatch(value) is not None


@attrs.frozen
class Blob:
    """A stored blob ready to stream: its path and size at the moment it was looked up."""

    path: Path
    stat: os.stat_result


class BlobWriter:
    """One blob being written. Call :meth:`commit` to publish it or :meth:`abort` to drop it.

    Data is buffered up to :data:`WRITE_BUFFER` bytes and written from a worker thread, so a
    64 MiB upload never sits in memory and never blocks the event loop on disk I/O.
    """

    def __init__(self, root: Path, key: str, temp: Path, fd: int) -> None:
        self.key = key
        self.size = 0
        self._root = root
        self._temp = temp
        self._fd: int | None = fd
        self._buffer = bytearray()

    async def write(self, data: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("blob writer is closed")
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= WRITE_BUFFER:
            await self._flush()

    async def _flush(self) -> None:
        if not self._buffer or self._fd is None:
            return
        chunk, self._buffer = bytes(self._buffer), bytearray()
        fd = self._fd
        await trio.to_thread.run_sync(_write_all, fd, chunk)

    async def commit(self) -> str:
        """Flush, fsync and atomically rename into place; returns the key."""
        await self._flush()
        fd, self._fd = self._fd, None
        if fd is None:
            raise RuntimeError("blob writer is closed")
        final = self._root / self.key
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_publish, fd, self._temp, final)
        return self.key

    async def abort(self) -> None:
        """Drop the partial file (safe to call after commit or twice; runs even when cancelled)."""
        fd, self._fd = self._fd, None
        self._buffer = bytearray()
        if fd is None:
            return
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_discard, fd, self._temp)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _publish(fd: int, temp: Path, final: Path) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_dir(final.parent)


def _discard(fd: int, temp: Path) -> None:
    try:
        os.close(fd)
    finally:
        temp.unlink(missing_ok=True)


def _sync_dir(folder: Path) -> None:
    """Make the rename durable where the platform allows syncing a directory."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class BlobStore:
    """Upload bytes on local disk under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def create(self) -> BlobWriter:
        """Start a new blob under a fresh random key (the directory is created on demand)."""

        def open_temp() -> tuple[str, Path, int]:
            self.root.mkdir(parents=True, exist_ok=True)
            key = new_key()
            temp = self.root / (_TEMP_PREFIX + key)
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600
            )
            return key, temp, fd

        key, temp, fd = await trio.to_thread.run_sync(open_temp)
        return BlobWriter(self.root, key, temp, fd)

    async def locate(self, key: str) -> Blob | None:
        """The blob for ``key`` if it is a valid key and a regular file exists for it."""
        if not is_key(key):
            return None
        path = self.root / key

        def stat() -> os.stat_result | None:
            try:
                result = path.stat()
            except OSError:
                return None
            return result if stat_module.S_ISREG(result.st_mode) else None

        found = await trio.to_thread.run_sync(stat)
        return None if found is None else Blob(path, found)

    async def delete(self, key: str) -> None:
        """Remove a blob; missing blobs and foreign keys are ignored. Runs even when cancelled."""
        if not is_key(key):
            return
        path = self.root / key
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


def remove_leftovers(
    root: Path,
    recorded: Callable[[], Iterable[str]],
    *,
    min_age: float = LEFTOVER_MIN_AGE,
) -> int:
    """Remove what a crash leaves in ``root``: ``.partial-*`` temporary files, and blobs that no
    ``uploads`` row names. Returns how many files were removed (logged when any were).

    For start-up only, before serving: this process must have no upload in flight. ``recorded``
    lists the storage keys the rows hold; it is called after the directory was scanned, so a
    blob published and recorded meanwhile is kept. Only regular files with the names this store
    creates are considered (anything else in the directory is left alone), and only once they
    are ``min_age`` seconds old.
    """
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    cutoff = time.time() - min_age
    partials: list[str] = []
    blobs: list[str] = []
    for entry in entries:
        partial = _TEMP.fullmatch(entry.name) is not None
        if not partial and not is_key(entry.name):
            continue
        try:
            found = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat_module.S_ISREG(found.st_mode) and found.st_mtime <= cutoff:
            (partials if partial else blobs).append(entry.name)
    if blobs:
        keep: set[str] = set()
        for key in recorded():
            keep.update((key, Path(key).name))
        blobs = [name for name in blobs if name not in keep]
    removed_partials = _unlink_all(root, partials)
    removed_blobs = _unlink_all(root, blobs)
    if removed_partials or removed_blobs:
        log.info(
            "removed %d leftover upload file(s) from %s (%d partial, %d without a row)",
            removed_partials + removed_blobs,
            root,
            removed_partials,
            removed_blobs,
        )
    return removed_partials + removed_blobs


def _unlink_all(root: Path, names: list[str]) -> int:
    removed = 0
    for name in names:
        try:
            (root / name).unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove leftover upload file %s: %s", root / name, exc)
            continue
        removed += 1
    return removed
