#!/usr/bin/env python3
"""Benchmarks for the figures the issues name. Not a test: prints numbers, asserts nothing.

    python scripts/bench.py [--runs N]

diagnose-vs-import: wall time of `svcdoctor diagnose --from <recording>` against
`python -c "import kubernetes"`, both as fresh processes, interleaved in the same run
(goal: ratio ≤ 1.3).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--recording", default=str(ROOT / "recordings" / "selector-typo.yaml"))
    args = ap.parse_args()
    diagnose = [sys.executable, "-m", "svcdoctor", "diagnose", "--from", args.recording]
    imp = [sys.executable, "-c", "import kubernetes"]
    timed(diagnose, 2), timed(imp, 2)  # warm the page cache and .pyc files
    d, i = [], []
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        d += timed(diagnose, 1)
        i += timed(imp, 1)
    md, mi = statistics.median(d), statistics.median(i)
    print(f"svcdoctor diagnose --from {Path(args.recording).name}: median {md * 1000:.0f} ms "
          f"(min {min(d) * 1000:.0f})")
    print(f"python -c 'import kubernetes':            median {mi * 1000:.0f} ms (min {min(i) * 1000:.0f})")
    print(f"ratio diagnose/import: {md / mi:.2f} (goal <= 1.3), {args.runs} runs each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
