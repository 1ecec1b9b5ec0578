"""A wheelhouse made from the distributions installed in the running environment.

The packaging tests install the built wheel into fresh venvs with ``pip --no-index
--find-links``: no package index is reached. The wheel's dependencies come from here: each
installed distribution the project needs is packed back into a wheel from its RECORD (the files
pip installed), with a fresh RECORD, so pip installs it like any wheel.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Written by the installer, not part of a wheel.
_INSTALL_ONLY = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def closure(root: str, extras: set[str]) -> list[metadata.Distribution]:
    """The installed distributions ``root[extras]`` depends on, transitively (root excluded)."""
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, set[str]]] = [(root, extras)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, wanted = pending.pop()
        key = (canonicalize_name(name), frozenset(wanted))
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)
        if canonicalize_name(name) != canonicalize_name(root):
            found[canonicalize_name(name)] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            markers = [{"extra": extra} for extra in wanted | {""}]
            if requirement.marker is not None and not any(
                requirement.marker.evaluate(env) for env in markers
            ):
                continue
            if canonicalize_name(requirement.name) == canonicalize_name(root):
                pending.append((root, set(requirement.extras)))
                continue
            pending.append((requirement.name, set(requirement.extras)))
    return list(found.values())


def _digest(data: bytes) -> str:
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """Write ``dist`` as a wheel into ``out``; returns the wheel's path."""
    files = [path for path in dist.files or [] if not str(path).startswith("..")]
    info_dir = next(
        str(path).split("/", 1)[0]
        for path in files
        if ".dist-info/" in str(path).replace("\\", "/")
    )
    wheel_meta = Path(str(dist.locate_file(f"{info_dir}/WHEEL"))).read_text()
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    # A file name carries the compressed tag set: py2.py3-none-any for py2-none-any + py3-none-any.
    parts = [sorted({tag.split("-")[index] for tag in tags}) for index in range(3)]
    name = info_dir.removesuffix(".dist-info")
    target = out / f"{name}-{'-'.join('.'.join(part) for part in parts)}.whl"
    rows: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            arcname = str(path).replace("\\", "/")
            if "__pycache__/" in arcname or arcname.endswith(".pyc"):
                continue
            if arcname.startswith(info_dir + "/") and arcname.split("/", 1)[1] in _INSTALL_ONLY:
                continue
            source = Path(str(dist.locate_file(path)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            archive.writestr(arcname, data)
            rows.append((arcname, _digest(data), str(len(data))))
        record = io.StringIO()
        writer = csv.writer(record, lineterminator="\n")
        writer.writerows([*rows, (f"{info_dir}/RECORD", "", "")])
        archive.writestr(f"{info_dir}/RECORD", record.getvalue())
    return target


def build_wheelhouse(out: Path, root: str = "clickclack", extras: set[str] | None = None) -> Path:
    """Every dependency of ``root[extras]`` as a wheel in ``out`` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    for dist in closure(root, extras or set()):
        repack(dist, out)
    return out
