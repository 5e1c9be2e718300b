#!/usr/bin/env python3
"""The property-based tests (tests/test_fuzz.py) for longer than CI runs them.

    python scripts/fuzz.py                 # 20x CI's examples, a random seed
    python scripts/fuzz.py --scale 100 -k recordings
    python scripts/fuzz.py --seed 1234     # repeat a run

CI runs each property with a fixed number of examples and a fixed seed (hypothesis'
derandomize), so it is bounded and repeatable; this runs the same properties with more
examples and a seed of its own, and prints hypothesis' statistics (examples run, time).
A failure prints the smallest input that breaks the property, to add as a test.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=20, help="examples per property, as a multiple of CI's")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random, printed)")
    ap.add_argument("-k", default="", help="only the properties whose name matches (pytest -k)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"scripts/fuzz.py: scale {args.scale}, seed {seed}", flush=True)
    env = {**os.environ, "SVCDOCTOR_FUZZ_SCALE": str(args.scale), "SVCDOCTOR_FUZZ_RANDOM": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", str(ROOT / "tests" / "test_fuzz.py"),
           f"--hypothesis-seed={seed}", "--hypothesis-show-statistics"]
    if args.k:
        cmd += ["-k", args.k]
    return subprocess.call(cmd, env=env, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
