"""Wall time of ``clickclack --help``: the cost of starting the CLI at all.

Run: python benchmarks/bench_cli_help.py [--runs 21] [--target-ms 300] [--check]

Runs the installed console script (the ``clickclack`` next to this Python) ``--runs`` times
after one warm-up, and prints the median, min and max wall time in milliseconds against the
target. It then lists the slowest top-level imports of ``clickclack_sdk.cli`` (from
``python -X importtime``) so a regression points at its cause. ``--check`` exits 1 when the
median misses the target.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def command(args: list[str]) -> list[str]:
    script = Path(sys.executable).with_name("clickclack")
    if script.is_file():
        return [str(script), *args]
    return [sys.executable, "-m", "clickclack_sdk.cli", *args]


def time_once(argv: list[str]) -> float:
    """Wall-clock milliseconds of one run, output discarded."""
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def slowest_imports(count: int) -> list[tuple[float, str]]:
    """The ``count`` direct imports of ``clickclack_sdk`` / ``clickclack_sdk.cli`` (and
    their own top-level dependencies) with the largest cumulative import time, in ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import clickclack_sdk.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[tuple[float, str]] = []
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match is None:
            continue
        cumulative_us, indent, name = int(match.group(2)), len(match.group(3)), match.group(4)
        if indent <= 5:  # the entry module, its imports and theirs
            found.append((cumulative_us / 1000, name))
    return sorted(found, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--target-ms", type=float, default=300.0)
    parser.add_argument("--check", action="store_true", help="exit 1 when over the target")
    options = parser.parse_args()
    argv = command(["--help"])
    env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    time_once(argv)  # warm the file-system cache and .pyc files
    samples = [time_once(argv) for _ in range(options.runs)]
    median = statistics.median(samples)
    verdict = "OK" if median <= options.target_ms else "OVER TARGET"
    print(f"clickclack --help: {' '.join(argv)}")
    print(
        f"  median {median:.0f} ms, min {min(samples):.0f} ms, max {max(samples):.0f} ms "
        f"over {options.runs} runs ({env_note}); target {options.target_ms:.0f} ms: {verdict}"
    )
    print("  slowest imports of clickclack_sdk.cli (cumulative):")
    for millis, name in slowest_imports(10):
        print(f"    {millis:7.1f} ms  {name}")
    return 1 if options.check and median > options.target_ms else 0


if __name__ == "__main__":
    sys.exit(main())
