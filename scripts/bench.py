#!/usr/bin/env python3
"""Benchmarks for the figures the issues name. Not a test: prints numbers, asserts nothing.

    python scripts/bench.py [--runs N]

diagnose-vs-import: wall time of `svcdoctor diagnose --from <recording>` against
`python -c "import kubernetes"`, both as fresh processes, interleaved in the same run
(goal: ratio ≤ 1.3).

probe-500: inside a network namespace of its own (tests/netlab.py), 500 node addresses
whose NodePort is DROPped by iptables are planned by the built-in plugins and probed with
default settings; wall time against the probe timeout (goal ≤ 1.2 ×). Needs root + iptables.

    python scripts/bench.py probe-500
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


def probe_500(n: int = 500) -> None:
    import datetime as dt

    sys.path.insert(0, str(ROOT / "tests"))
    from netlab import NetLab

    from svcdoctor import probing, registry
    from svcdoctor.evidence import Evidence
    from svcdoctor.probes import ProbeOptions
    from svcdoctor.target import Target

    ok, reason = NetLab.available()
    if not ok:
        raise SystemExit(f"probe-500 needs the network lab: {reason}")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "bench"},
           "spec": {"type": "NodePort", "selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}}
    nodes = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i:03d}"},
              "status": {"addresses": [{"type": "InternalIP", "address": f"127.0.{1 + i // 250}.{1 + i % 250}"}],
                         "conditions": [{"type": "Ready", "status": "True"}]}} for i in range(n)]
    with NetLab() as lab, lab.inside():
        lab.add_rule("INPUT", "-p", "tcp", "--dport", "30080", "-j", "DROP")
        options = ProbeOptions()  # the defaults a user gets
        for attempt in range(3):
            ev = Evidence(Target("bench", "web"), [svc, *nodes], {"Service", "Node"},
                          dt.datetime.now(dt.timezone.utc), "bench")
            t = time.perf_counter()
            probing.probe(ev, registry.default(), options)
            wall = time.perf_counter() - t
            outcomes = {p["outcome"] for p in ev.probes}
            print(f"probe-500 run {attempt + 1}: {len(ev.probes)} NodePort probes, outcomes {sorted(outcomes)}, "
                  f"wall {wall:.2f}s = {wall / options.timeout:.2f} x the {options.timeout:g}s probe timeout "
                  f"(goal <= 1.2)")


def main() -> int:
    if sys.argv[1:2] == ["probe-500"]:
        probe_500()
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--recording", default=str(ROOT / "svcdoctor" / "recordings" / "selector-typo.yaml"))
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
