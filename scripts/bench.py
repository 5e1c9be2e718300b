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

l7-requests: the control plane of the L7 scenarios (tests/l7_scenarios.py: Gateway API
CRDs, ingress-nginx, Envoy Gateway played by the test); API requests (from the report's
source line) and wall time of each L7 scenario's `diagnose svc/NAME`, of a Service nobody
routes to, and of the ingress/, httproute/ and URL targets (the README's budget table).

    python scripts/bench.py l7-requests

scan: `svcdoctor scan -A` on a control plane of 100 kwok nodes, 4,000 pods and 500
Services (some broken on purpose) against `kubectl get svc,endpointslices,pods,events,nodes
-A -o json`: wall time (goal <= 1.5 x), API requests, peak memory against the JSON's size
(goal <= 4 x), requests after 100 more Services (unchanged but for 500-object pages), a
cProfile of the in-process scan, and `scan --from` a 10 x synthetic dump against the 1 x
one (goal <= 11 x). The code is in scripts/bench_scan.py; `--help` lists the sizes.

    python scripts/bench.py scan [--pods 4000] [--services 500] [--nodes 100]
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


def l7_requests() -> None:
    import json
    import os

    sys.path.insert(0, str(ROOT / "tests"))
    import controlplane
    import scenarios

    def run(cp, *target: str) -> tuple[int, float, list[str]]:
        env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "NO_COLOR": "1"}
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "svcdoctor", "diagnose", *target, "-o", "json", "--no-probe"],
                              capture_output=True, text=True, env=env)
        took = time.perf_counter() - t
        doc = json.loads(proc.stdout)
        count = lambda d: int(d["source"].rsplit("(", 1)[1].split()[0])  # noqa: E731
        ids = sorted(f["id"] for f in doc["findings"] if f["id"] != "could-not-verify")
        return count(doc) + sum(count(b) for b in doc.get("backends", [])), took, ids

    chosen = [s for s in scenarios.SCENARIOS if s.cluster == "l7"]
    with controlplane.ControlPlane() as cp:
        scenarios.prepare(cp, "l7")
        cp.create_namespace("plain")
        cp.kubectl("apply", "-f", "-", input="\n---\n".join(
            [scenarios.deployment("plain", "plain", {"app": "plain"}), scenarios.service("plain", "plain", {"app": "plain"})]))
        for sc in chosen:
            scenarios.run(cp, sc)
        rows = [("svc/plain (nobody routes to it)", *run(cp, "svc/plain", "-n", "plain"))]
        rows += [(f"svc/{sc.service} -n {sc.namespace}", *run(cp, f"svc/{sc.service}", "-n", sc.namespace)) for sc in chosen]
        rows += [(" ".join(t), *run(cp, *t)) for t in (
            ("ingress/cart", "-n", "l7-store"), ("httproute/pay", "-n", "l7-checkout"),
            ("https://api.shop.example/v1",), ("http://stock.shop.example/stock/1",))]
    for what, n, took, ids in rows:
        print(f"{what:44} {n:3} requests {took * 1000:6.0f} ms  {', '.join(ids) or 'no findings'}")


def main() -> int:
    if sys.argv[1:2] == ["probe-500"]:
        probe_500()
        return 0
    if sys.argv[1:2] == ["l7-requests"]:
        l7_requests()
        return 0
    if sys.argv[1:2] == ["scan"]:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_scan

        return bench_scan.main(sys.argv[2:])
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
