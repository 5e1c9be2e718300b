"""`python scripts/bench.py scan`: what `svcdoctor scan -A` costs on a cluster of realistic
size, against what merely reading the same lists with kubectl costs.

    python scripts/bench.py scan [--pods 4000] [--services 500] [--nodes 100] [--runs 3] [--wide]

A real control plane (tests/controlplane.py) gets ``--nodes`` kwok nodes on loopback
addresses, 4 namespaces of Deployments (``--pods / --services`` replicas each, one
Deployment per Service) and ``--services`` Services, a few of them broken on purpose
(selector typos, named targetPorts no container declares). Then, interleaved so machine
noise hits both alike (others share the CPU; figures are noisy), median of ``--runs``:

a. ``kubectl get svc,endpointslices,pods,events,nodes -A -o json``: wall time, bytes;
b. ``svcdoctor scan -A -o json``: wall time (goal ≤ 1.5 × a), API requests, Services
   scanned, and whether exactly the broken Services were reported;
c. peak RSS of the scan process against a's bytes (goal ≤ 4 ×), beside the RSS of
   ``import svcdoctor.cli`` alone;
d. the request count per list before and after ``--extra-services`` more Services (only
   pages may add requests: Σ max(1, ⌈objects / 500⌉) over the lists read);

an in-process cProfile of ``svcdoctor.scan.live`` (where the time goes), and offline
scaling: ``scan --from`` a's output against a synthetic ``--scale`` × copy of it
(namespaces and nodes cloned under new names; goal ≤ 11 ×; with ``--wide`` also one of
the same namespaces grown ``--scale`` × instead). Only 127.0.0.1 is dialled:
pod IPs and ClusterIPs are fake and nothing probes (a scan's probes are off).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import controlplane  # noqa: E402
import scenarios  # noqa: E402

NAMESPACES = ("shop", "payments", "platform", "data")
APPS = ("auth", "cart", "catalog", "checkout", "gateway", "inventory", "ledger", "media",
        "notifications", "orders", "profile", "recommendations", "reviews", "search", "shipping", "stock")
ROLES = ("api", "web", "worker", "grpc", "admin", "cache", "events", "sync")
TIERS = {"api": "backend", "web": "frontend", "worker": "backend", "grpc": "backend", "admin": "frontend",
         "cache": "data", "events": "data", "sync": "data"}
PORTS = "[{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]"
BAD_TARGET_PORTS = ("htpp", "http-web", "web", "metric")     # no container declares these
KINDS = "svc,endpointslices,pods,events,nodes"
# Give the controllers room: at their default 20 QPS, 4,000 pods take minutes of throttling.
FAST_CONTROLLERS = {
    "kube-controller-manager": ["--kube-api-qps=300", "--kube-api-burst=600",
                                "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
                                "--concurrent-service-endpoint-syncs=10"],
    "kube-scheduler": ["--kube-api-qps=300", "--kube-api-burst=600"],
}


# --- the cluster ------------------------------------------------------------------------

@dataclass
class App:
    namespace: str
    name: str
    replicas: int
    selector: str = ""          # the Service's app= value ("" = the app's own name)
    target_port: str = "http"   # the Service's targetPort

    @property
    def broken(self) -> str:
        if self.selector and self.selector != self.name:
            return "selector"
        return "port" if self.target_port != "http" else ""


def app_name(i: int) -> str:
    """auth-api, cart-api, ..., stock-sync, then auth-api-2 ...: names apps really have."""
    base, role, rep = APPS[i % len(APPS)], ROLES[(i // len(APPS)) % len(ROLES)], i // (len(APPS) * len(ROLES))
    return f"{base}-{role}" + (f"-{rep + 1}" if rep else "")


def typo(name: str, taken: set[str]) -> str:
    """The name with two adjacent letters of its first word swapped (catalog → cataolg),
    checked to name no app anywhere, so the Service really selects nothing."""
    word, _, rest = name.partition("-")
    for i in range(len(word) - 2, 0, -1):
        if word[i] != word[i + 1]:
            cand = word[:i] + word[i + 1] + word[i] + word[i + 2:] + ("-" + rest if rest else "")
            if cand not in taken:
                return cand
    return name + "x"


def plan(pods: int, services: int, bad_selectors: int, bad_ports: int) -> list[App]:
    """One Deployment and one Service per app, round-robin over the namespaces; a fixed
    random sample of the Services broken (so the result is the same on every run)."""
    replicas = max(1, pods // services)
    apps = [App(NAMESPACES[i % len(NAMESPACES)], app_name(i // len(NAMESPACES)), replicas)
            for i in range(services)]
    taken = {a.name for a in apps}
    broken = random.Random(42).sample(range(services), min(services, bad_selectors + bad_ports))
    for n, i in enumerate(broken):
        if n < bad_selectors:
            apps[i].selector = typo(apps[i].name, taken)
        else:
            apps[i].target_port = BAD_TARGET_PORTS[n % len(BAD_TARGET_PORTS)]
    return apps


def manifests(apps: list[App], namespace: str) -> str:
    """One multi-document input for `kubectl apply`: Deployments (the scenarios' realistic
    template: labels, two named ports, an HTTP readiness probe) then their Services."""
    mine = [a for a in apps if a.namespace == namespace]
    docs = [scenarios.deployment(a.name, namespace, {"app": a.name, "tier": TIERS[a.name.split("-")[1]]},
                                 replicas=a.replicas, ports=PORTS,
                                 pod_labels={"version": "v1", "team": a.name.split("-")[0]})
            for a in mine]
    docs += [scenarios.service(a.name, namespace, {"app": a.selector or a.name},
                               ports=f"[{{name: http, port: 80, targetPort: {a.target_port}}}]")
             for a in mine]
    return "\n---\n".join(docs)


def node_ip(i: int) -> str:
    """Loopback addresses for up to 62,500 nodes (127.0.1.1 ...): never a fake address."""
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def node_name(i: int) -> str:
    return f"kwok-node-{i:04d}"


def add_nodes(cp: Any, n: int) -> None:
    """kwok nodes as prepare_fleet makes them (created first, waited for after), in 3 zones."""
    for i in range(n):
        cp.add_node(node_name(i), ip=node_ip(i), wait=False,
                    labels={"topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}", "pool": "general"})
    for i in range(n):
        cp.wait_for_node(node_name(i), timeout=120)


def apply(cp: Any, apps: list[App]) -> None:
    """Each namespace's objects in one `kubectl apply`, the namespaces in parallel."""
    for ns in NAMESPACES:
        cp.create_namespace(ns)
    with concurrent.futures.ThreadPoolExecutor(len(NAMESPACES)) as pool:
        for f in [pool.submit(cp.kubectl, "apply", "-f", "-", input=manifests(apps, ns), timeout=1800)
                  for ns in NAMESPACES]:
            f.result()


def settled(cp: Any, apps: list[App]) -> tuple[bool, str]:
    """(done, progress): every Deployment has all replicas ready, every Service has an
    EndpointSlice, and each healthy Service's slices publish all its pods as ready."""
    deploys = json.loads(cp.kubectl("get", "deployments", "-A", "-o", "json", timeout=120).stdout)["items"]
    ready = sum((d.get("status") or {}).get("readyReplicas") or 0 for d in deploys)
    slices = json.loads(cp.kubectl("get", "endpointslices", "-A", "-o", "json", timeout=120).stdout)["items"]
    published: dict[tuple[str, str], int] = {}
    for s in slices:
        key = (s["metadata"]["namespace"], s["metadata"].get("labels", {}).get("kubernetes.io/service-name", ""))
        published[key] = published.get(key, 0) + sum(
            bool((e.get("conditions") or {}).get("ready")) for e in s.get("endpoints") or [])
    with_slice = sum((a.namespace, a.name) in published for a in apps)
    full = sum(published.get((a.namespace, a.name)) == a.replicas for a in apps if not a.broken)
    healthy = sum(not a.broken for a in apps)
    want = sum(a.replicas for a in apps)
    done = ready == want and with_slice == len(apps) and full == healthy
    return done, (f"{ready}/{want} pods ready, {with_slice}/{len(apps)} Services with a slice, "
                  f"{full}/{healthy} healthy Services fully published")


def wait_settled(cp: Any, apps: list[App], timeout: float) -> float:
    """Poll until settled (raise after ``timeout`` s); returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        cp.check_alive()
        try:
            done, progress = settled(cp, apps)
        except controlplane.ControlPlaneError as exc:  # a slow kubectl on a loaded machine
            done, progress = False, f"(poll failed: {str(exc)[:120]})"
        took = time.monotonic() - t0
        print(f"  [{took:5.0f}s] {progress}", flush=True)
        if done:
            time.sleep(3)  # the last events land
            return took
        if took > timeout:
            raise SystemExit(f"not settled after {timeout:.0f}s: {progress}")
        time.sleep(10)


# --- measuring a process ----------------------------------------------------------------

@dataclass
class Run:
    wall: float
    rss: int       # peak resident set of the measured process, bytes
    rc: int
    out: Path


# The peak RSS must come from a process forked by a small one: Linux carries a process's
# high-water RSS across exec, and Python's subprocess vforks from this (large) process, so
# wait4() on our own child would report at least our own peak. GNU time forks, execs the
# command and reports that grandchild's peak (%M, KiB); a bare Python wrapper is the fallback.
TIME = shutil.which("time", path="/usr/bin:/bin")
_WRAPPER = ("import os, sys; pid = os.fork()\n"
            "if pid == 0: os.execvp(sys.argv[2], sys.argv[2:])\n"
            "_, st, ru = os.wait4(pid, 0); open(sys.argv[1], 'w').write(str(ru.ru_maxrss))\n"
            "sys.exit(os.waitstatus_to_exitcode(st))")


def measured(cmd: list[str], out: Path, env: dict[str, str] | None = None, timeout: float = 3600) -> Run:
    """Run ``cmd`` with stdout to ``out``: wall time and the peak RSS of that one process."""
    rss_file = out.with_name(out.name + ".rss")
    wrap = [TIME, "-f", "%M", "-o", str(rss_file)] if TIME else [sys.executable, "-c", _WRAPPER, str(rss_file)]
    with open(out, "wb") as stdout, tempfile.TemporaryFile() as stderr:
        t = time.perf_counter()
        try:
            proc = subprocess.run([*wrap, *cmd], stdout=stdout, stderr=stderr, env=env, cwd=ROOT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"{' '.join(cmd[:6])} ... took over {timeout:.0f}s") from None
        wall = time.perf_counter() - t
        if proc.returncode not in (0, 1, 2):  # a scan exits 1/2 when it finds something
            stderr.seek(0)
            raise SystemExit(f"{' '.join(cmd[:6])} ... exited {proc.returncode}:\n"
                             f"{stderr.read().decode(errors='replace')[-3000:]}")
    kib = int(rss_file.read_text().split()[-1])
    return Run(wall, kib * 1024, proc.returncode, out)


def interleaved(cmds: dict[str, Callable[[int], tuple[list[str], Path, dict | None]]], runs: int,
                warm: bool = True) -> dict[str, list[Run]]:
    """Each command ``runs`` times, taking turns, after one unmeasured warm-up run each
    (page cache, .pyc files, kubectl's discovery cache)."""
    if warm:
        for make in cmds.values():
            measured(*make(-1))
    out: dict[str, list[Run]] = {k: [] for k in cmds}
    for i in range(runs):
        for k, make in cmds.items():
            out[k].append(measured(*make(i)))
            print(f"  {k} run {i + 1}: {out[k][-1].wall:.2f}s, peak RSS {mib(out[k][-1].rss)}", flush=True)
    return out


def med(runs: list[Run], what: str = "wall") -> float:
    return statistics.median(getattr(r, what) for r in runs)


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


# --- reading a scan's JSON ---------------------------------------------------------------

@dataclass
class ScanDoc:
    services: int
    requests: int
    selector_no_pods: set[str] = field(default_factory=set)
    target_port: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path) -> "ScanDoc":
        doc = json.loads(path.read_text())
        out = cls(len(doc["services"]), doc.get("apiRequests", 0))
        for s in doc["services"]:
            ids = {f["id"] for f in s.get("findings") or []}
            if "selector-matches-no-pods" in ids:
                out.selector_no_pods.add(s["target"])
            if any(i.startswith("target-port-") for i in ids):
                out.target_port.add(s["target"])
        return out

    def check(self, apps: list[App]) -> str:
        """Found vs created, naming any Service missed or reported wrongly."""
        want_sel = {f"{a.namespace}/{a.name}" for a in apps if a.broken == "selector"}
        want_port = {f"{a.namespace}/{a.name}" for a in apps if a.broken == "port"}
        parts = []
        for what, got, want in (("selector-matches-no-pods", self.selector_no_pods, want_sel),
                                ("target-port-*", self.target_port, want_port)):
            extra, missed = sorted(got - want), sorted(want - got)
            parts.append(f"{what}: {len(got & want)}/{len(want)} found"
                         + (f", missed {missed[:5]}" if missed else "")
                         + (f", unexpected {extra[:5]}" if extra else ""))
        return "; ".join(parts)


# --- in-process: requests per list, profile ---------------------------------------------

@contextlib.contextmanager
def counted_requests() -> Iterator[dict[str, list[int]]]:
    """{list path: [objects, API requests]} of the in-process scans run meanwhile: the
    client's get and list wrapped in this process only (svcdoctor's code is untouched)."""
    from svcdoctor.sources.live import Client

    get, lst = Client.get, Client.list
    lock = threading.Lock()
    tally: dict[str, list[int]] = {}

    def key(path: str, query: dict[str, str]) -> str:
        q = {k: v for k, v in query.items() if k not in ("limit", "continue")}
        return path + ("?" + "&".join(f"{k}={v}" for k, v in sorted(q.items())) if q else "")

    def counted_get(self: Any, path: str, what: str, **query: str) -> Any:
        with lock:
            tally.setdefault(key(path, query), [0, 0])[1] += 1
        return get(self, path, what, **query)

    def counted_list(self: Any, path: str, kind: str, what: str, prepare: Any = None, **query: str) -> Any:
        items = lst(self, path, kind, what, prepare=prepare, **query)
        with lock:
            tally.setdefault(key(path, query), [0, 0])[0] += len(items)
        return items

    Client.get, Client.list = counted_get, counted_list  # type: ignore[method-assign]
    try:
        yield tally
    finally:
        Client.get, Client.list = get, lst  # type: ignore[method-assign]


def pages(tally: dict[str, list[int]]) -> tuple[str, int]:
    """"/api/v1/pods 4000→8, ..." and what the formula predicts: one request per list read,
    one more per further page of PAGE (500) objects, i.e. Σ max(1, ⌈n / 500⌉)."""
    from svcdoctor.sources.live import PAGE

    parts = [f"{path.removeprefix('/apis/').removeprefix('/api/')} {n}→{r}" for path, (n, r) in sorted(tally.items())]
    return ", ".join(parts), sum(max(1, -(-n // PAGE)) for n, _ in tally.values())


def counted_live(kubeconfig: Path) -> tuple[Any, dict[str, list[int]], float]:
    from svcdoctor.scan import Scope, live

    with counted_requests() as tally:
        t = time.perf_counter()
        result = live(Scope(all_namespaces=True), kubeconfig=str(kubeconfig))
    return result, tally, time.perf_counter() - t


def profile_live(kubeconfig: Path, top: int = 25) -> tuple[Any, dict[str, list[int]], str]:
    """cProfile of one in-process ``scan.live(-A)``. The scope's first lists are fetched by
    background threads (ScopeClient.prefetch) and each Service's reads are answered in
    collect()'s thread pool, which cProfile does not follow, so each thread started
    meanwhile gets a profiler of its own; their stats are merged and reported apart."""
    threads: list[cProfile.Profile] = []
    run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        p = cProfile.Profile()
        threads.append(p)
        p.runcall(run, self)

    main = cProfile.Profile()
    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    try:
        result, tally, wall = main.runcall(counted_live, kubeconfig)
    finally:
        threading.Thread.run = run  # type: ignore[method-assign]

    def table(stats: pstats.Stats, key: str, n: int) -> str:
        buf = io.StringIO()
        stats.stream = buf
        stats.strip_dirs().sort_stats(key).print_stats(n)
        return "\n".join(line for line in buf.getvalue().splitlines()
                         if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")))

    report = [f"in-process scan.live(-A) under cProfile: {wall:.2f}s wall, {len(result.reports)} Services, "
              f"{result.requests} API requests, diagnosing {result.seconds:.2f}s (after the first lists)",
              "lists read (objects→requests): " + pages(tally)[0],
              f"\n--- main thread, top {top} by cumulative time", table(pstats.Stats(main), "cumulative", top),
              f"\n--- main thread, top {top} by own time", table(pstats.Stats(main), "tottime", top)]
    if threads:  # idle pool workers show as time in SimpleQueue.get / lock acquire
        both = pstats.Stats(*threads)
        report += [f"\n--- the {len(threads)} other threads together (they overlap the main thread), "
                   f"top {top} by cumulative time", table(both, "cumulative", top),
                   f"\n--- the other threads, top {top} by own time", table(both, "tottime", top)]
    return result, tally, "\n".join(report)


# --- the synthetic N× dump ----------------------------------------------------------------

_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


class Cloner:
    """Copy k of a kubectl List, every node renamed and readdressed (10 copies make 10 ×
    the nodes) and the identities that must stay unique across copies rewritten
    consistently: UIDs (owner references, slice targetRefs, events' involvedObject
    follow), pod IPs and ClusterIPs (10.x shifted by k × 65,536, staying in /12 ranges).

    ``wide=False``: the bench namespaces are renamed (shop → shop-03), so the cluster gets
    10 × the namespaces of the same size. ``wide=True``: the copies stay in the same
    namespaces, their objects and app labels renamed (auth-api → auth-api-c03), so each
    namespace gets 10 × as large: what a per-Service cost proportional to the namespace
    shows. Objects of other namespaces (default/kubernetes, kube-system) are kept once,
    but node events, which are cloned with their node."""

    def __init__(self, items: list[dict], namespaces: tuple[str, ...], wide: bool = False) -> None:
        self.items = items
        self.namespaces = set(namespaces)
        self.wide = wide
        self.nodes = [i["metadata"]["name"] for i in items if i.get("kind") == "Node"]
        self.uids = {i["metadata"]["uid"] for i in items if i.get("metadata", {}).get("uid")}
        self.node_ips = {i["metadata"]["name"]: a["address"] for i in items if i.get("kind") == "Node"
                         for a in i.get("status", {}).get("addresses") or [] if a.get("type") == "InternalIP"}
        # wide: the names to suffix — every object's name in the bench namespaces, and every
        # app= value (labels, selectors, slices' service-name labels follow from the names).
        self.names: set[str] = set()
        if wide:
            for o in items:
                if o.get("metadata", {}).get("namespace") in self.namespaces:
                    self.names.add(o["metadata"]["name"])
                    self.names.update(_values_of(o, "app"))

    def wanted(self, obj: dict) -> bool:
        """Whether copy k > 0 holds a copy of ``obj``."""
        if obj.get("kind") == "Node":
            return True
        ns = obj.get("metadata", {}).get("namespace")
        return ns in self.namespaces or (obj.get("kind") == "Event"
                                         and (obj.get("involvedObject") or {}).get("kind") == "Node")

    def copy(self, k: int) -> list[dict]:
        base = k * len(self.nodes)
        exact: dict[str, str] = {n: f"{n}-c{k:02d}" for n in self.names}
        for i, name in enumerate(self.nodes):
            exact[name] = node_name(base + i)
            if name in self.node_ips:
                exact[self.node_ips[name]] = node_ip(base + i)
        exact.update({u: str(uuid.uuid5(uuid.NAMESPACE_OID, f"{k}/{u}")) for u in self.uids})
        ns_map = {} if self.wide else {ns: f"{ns}-{k:02d}" for ns in self.namespaces}
        sub = {**{n: exact[n] for n in self.nodes}, **{f"{ns}/": f"{new}/" for ns, new in ns_map.items()}}
        words = re.compile("|".join(re.escape(w) for w in sorted(sub, key=len, reverse=True)))

        def rewrite(v: Any, key: str = "") -> Any:
            if isinstance(v, dict):
                return {kk: rewrite(vv, kk) for kk, vv in v.items()}
            if isinstance(v, list):
                return [rewrite(x, key) for x in v]
            if not isinstance(v, str):
                return v
            if key == "namespace":
                return ns_map.get(v, v)
            if v in exact:
                return exact[v]
            m = _IPV4.match(v)
            if m and m.group(1) == "10":
                return f"10.{int(m.group(2)) + k}.{m.group(3)}.{m.group(4)}"
            if key in ("message", "note", "providerID"):
                return words.sub(lambda w: sub[w.group(0)], v)
            return v

        return [rewrite(o) for o in self.items if self.wanted(o)]

    def scaled(self, times: int) -> list[dict]:
        """Copy 0 is the input itself (with what is kept once); copies 1 .. times-1 follow."""
        out = list(self.items)
        for k in range(1, times):
            out += self.copy(k)
        return out


def _values_of(v: Any, key: str, found: set[str] | None = None) -> set[str]:
    """Every string value under ``key`` anywhere in ``v``."""
    found = set() if found is None else found
    if isinstance(v, dict):
        for k, x in v.items():
            if k == key and isinstance(x, str):
                found.add(x)
            else:
                _values_of(x, key, found)
    elif isinstance(v, list):
        for x in v:
            _values_of(x, key, found)
    return found


def write_scaled(src: Path, dst: Path, times: int, wide: bool = False) -> dict[str, int]:
    """Write the ``times`` × dump; returns its object counts by kind."""
    doc = json.loads(src.read_text())
    items = Cloner(doc["items"], NAMESPACES, wide).scaled(times)
    dst.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {}}))
    counts: dict[str, int] = {}
    for o in items:
        counts[o.get("kind", "?")] = counts.get(o.get("kind", "?"), 0) + 1
    return counts


def kinds(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in json.loads(path.read_text())["items"]:
        counts[o.get("kind", "?")] = counts.get(o.get("kind", "?"), 0) + 1
    return counts


# --- the benchmark ---------------------------------------------------------------------

def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench.py scan", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=4000)
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--selector-typos", type=int, default=None, help="default: 4%% of --services")
    ap.add_argument("--bad-target-ports", type=int, default=None, help="default: 4%% of --services")
    ap.add_argument("--extra-services", type=int, default=100, help="added for the request-count check")
    ap.add_argument("--scale", type=int, default=10, help="the synthetic offline dump is this many times a's")
    ap.add_argument("--wide", action="store_true",
                    help="also scan (once) a --scale × dump made of the same namespaces, each --scale × as large")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle-timeout", type=float, default=3600)
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="keep the dumps and scan outputs in DIR")
    args = ap.parse_args(argv)
    for name in ("selector_typos", "bad_target_ports"):
        if getattr(args, name) is None:
            setattr(args, name, max(1, args.services * 4 // 100))
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    ok, why = controlplane.ControlPlane.available()
    if not ok:
        raise SystemExit(f"scan bench needs the control plane: {why}")
    work = Path(args.keep or tempfile.mkdtemp(prefix="svcdoctor-bench-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    load = [os.getloadavg()[0]]
    apps = plan(args.pods, args.services, args.selector_typos, args.bad_target_ports)
    rows: list[tuple[str, str, str]] = []
    try:
        with controlplane.ControlPlane(extra_args=FAST_CONTROLLERS) as cp:
            live_part(cp, args, apps, work, rows)
        load.append(os.getloadavg()[0])
        offline_part(args, work, rows)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    load.append(os.getloadavg()[0])
    rows.append(("1-min load average (start, after live, end; 2 cores)", ", ".join(f"{x:.1f}" for x in load), ""))
    rows.append(("svcdoctor measured", tree(), ""))
    print_table(rows)
    return 0


def live_part(cp: Any, args: argparse.Namespace, apps: list[App], work: Path,
              rows: list[tuple[str, str, str]]) -> None:
    t = time.monotonic()
    print(f"control plane up in {cp.startup_seconds:.0f}s; {args.nodes} nodes ...", flush=True)
    add_nodes(cp, args.nodes)
    print(f"{len(apps)} Deployments × {apps[0].replicas} replicas and {len(apps)} Services "
          f"({args.selector_typos} selector typos, {args.bad_target_ports} bad targetPorts) ...", flush=True)
    apply(cp, apps)
    settle = wait_settled(cp, apps, args.settle_timeout)
    rows.append(("cluster built (nodes, apply, settle)", f"{time.monotonic() - t:.0f}s (settle {settle:.0f}s)", ""))

    kubectl = [str(cp.bin_dir / "kubectl"), f"--kubeconfig={cp.kubeconfig}",
               f"--cache-dir={cp.workdir / 'kubectl-cache'}", "get", KINDS, "-A", "-o", "json"]
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "NO_COLOR": "1"}
    scan = [sys.executable, "-m", "svcdoctor", "scan", "-A", "-o", "json", "--no-progress"]
    print(f"\nlive: kubectl get {KINDS} -A -o json vs svcdoctor scan -A, {args.runs} runs each ...", flush=True)
    runs = interleaved({
        "kubectl get": lambda i: (kubectl, work / "dump-1x.json", None),
        "svcdoctor scan": lambda i: (scan, work / f"scan-live-{i}.json", env),
    }, args.runs)
    raw = (work / "dump-1x.json").stat().st_size
    doc = ScanDoc.read(runs["svcdoctor scan"][-1].out)
    k, s = med(runs["kubectl get"]), med(runs["svcdoctor scan"])
    objects = kinds(work / "dump-1x.json")
    rows += [
        ("objects listed", ", ".join(f"{n} {kind}" for kind, n in sorted(objects.items())), ""),
        (f"a. kubectl get {KINDS} -A -o json", f"{k:.2f}s, {raw / 2**20:.1f} MiB", ""),
        ("b. svcdoctor scan -A -o json", f"{s:.2f}s", ""),
        ("b/a wall time", f"{s / k:.2f} ×", "≤ 1.5"),
        ("b. Services scanned, API requests", f"{doc.services}, {doc.requests}", ""),
        ("b. broken Services found", doc.check(apps), "all, none else"),
    ]
    # The program a scan runs before it reads anything: the CLI, the API client, the plugins.
    loaded = ("import svcdoctor.cli, svcdoctor.scan, svcdoctor.sources.live, kubernetes.client; "
              "from svcdoctor import registry; registry.default()")
    base = interleaved({"import svcdoctor.cli": lambda i: (
        [sys.executable, "-c", loaded], work / "import.out", None)}, args.runs)
    peak = med(runs["svcdoctor scan"], "rss")
    rows += [
        ("c. scan peak RSS / a's JSON bytes", f"{mib(peak)} / {raw / 2**20:.1f} MiB = {peak / raw:.2f} ×", "≤ 4"),
        ("c. (scan − import) RSS / a's bytes", f"{(peak - med(base['import svcdoctor.cli'], 'rss')) / raw:.2f} ×", ""),
        ("c. kubectl get peak RSS", mib(med(runs["kubectl get"], "rss")), ""),
        ("c. RSS of the program alone (CLI, API client, plugins loaded)", mib(med(base["import svcdoctor.cli"], "rss")), ""),
    ]
    if args.no_profile:
        result, tally, _ = counted_live(cp.kubeconfig)
    else:
        print("\nin-process profile of scan.live(-A) ...", flush=True)
        result, tally, report = profile_live(cp.kubeconfig)
        print(report, flush=True)
    if args.extra_services > 0:
        extra_services(cp, apps, args.extra_services, (result, tally), rows)


def extra_services(cp: Any, apps: list[App], n: int, before: tuple[Any, dict[str, list[int]]],
                   rows: list[tuple[str, str, str]]) -> None:
    """d: ``n`` more healthy Services (the apps' metrics ports), scanned in-process with the
    requests counted per list: only pages may add requests (Σ max(1, ⌈n / 500⌉))."""
    docs = [scenarios.service(f"{a.name}-metrics", a.namespace, {"app": a.name},
                              ports="[{name: metrics, port: 9100, targetPort: metrics}]") for a in apps[:n]]
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(docs), timeout=600)
    cp.wait_until(lambda: len(json.loads(cp.kubectl("get", "endpointslices", "-A", "-l",
                                                     "kubernetes.io/service-name", "-o", "json",
                                                     timeout=120).stdout)["items"]) >= len(apps) + n,
                  timeout=300, interval=5, what=f"slices of the {n} new Services")
    print(f"\nin-process scan after +{n} Services ...", flush=True)
    result, tally, wall = counted_live(cp.kubeconfig)
    (r0, t0), (line0, f0), (line1, f1) = before, pages(before[1]), pages(tally)
    print(f"  before: {r0.requests} requests; {line0}\n  after:  {result.requests} requests; {line1}", flush=True)
    rows += [
        ("d. in-process live(): Services, API requests", f"{len(r0.reports)}, {r0.requests} "
         f"(formula Σ max(1, ⌈objects/500⌉) over the {len(t0)} lists: {f0})", ""),
        (f"d. after +{n} Services: Services, API requests",
         f"{len(result.reports)}, {result.requests} (formula: {f1}); {wall:.1f}s in-process",
         "only pages added"),
    ]


def offline_part(args: argparse.Namespace, work: Path, rows: list[tuple[str, str, str]]) -> None:
    one, big = work / "dump-1x.json", work / f"dump-{args.scale}x.json"
    t = time.monotonic()
    counts = write_scaled(one, big, args.scale)
    rows.append((f"offline {args.scale}× dump", ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
                 + f"; {big.stat().st_size / 2**20:.0f} MiB (built in {time.monotonic() - t:.0f}s)", ""))
    print(f"\noffline: scan --from the 1× and the {args.scale}× dump, {args.runs} runs each ...", flush=True)
    cmd = lambda path: [sys.executable, "-m", "svcdoctor", "scan", "--from", str(path), "-o", "json",  # noqa: E731
                        "--no-progress"]
    runs = interleaved({
        "scan --from 1×": lambda i: (cmd(one), work / "scan-off-1x.json", None),
        f"scan --from {args.scale}×": lambda i: (cmd(big), work / f"scan-off-{args.scale}x.json", None),
    }, args.runs, warm=False)
    a, b = med(runs["scan --from 1×"]), med(runs[f"scan --from {args.scale}×"])
    d1, dn = ScanDoc.read(work / "scan-off-1x.json"), ScanDoc.read(work / f"scan-off-{args.scale}x.json")
    rows += [
        ("offline 1×: Services, wall, peak RSS", f"{d1.services}, {a:.2f}s, {mib(med(runs['scan --from 1×'], 'rss'))}", ""),
        (f"offline {args.scale}×: Services, wall, peak RSS",
         f"{dn.services}, {b:.2f}s, {mib(med(runs[f'scan --from {args.scale}×'], 'rss'))}", ""),
        (f"offline {args.scale}× / 1× wall time", f"{b / a:.2f} ×", f"≤ {args.scale * 1.1:g}"),
        (f"offline {args.scale}×: broken found", f"{len(dn.selector_no_pods)} selector, {len(dn.target_port)} "
         f"target-port (1×: {len(d1.selector_no_pods)}, {len(d1.target_port)})", f"{args.scale} × 1×"),
    ]
    if args.wide:
        wide_part(args, work, rows, a, cmd)


def wide_part(args: argparse.Namespace, work: Path, rows: list[tuple[str, str, str]], one: float,
              cmd: Callable[[Path], list[str]]) -> None:
    """The same number of objects as the N× dump, in the 4 namespaces (each N× as large):
    a cost per Service that grows with its namespace shows here, not in the N× above."""
    wide = work / f"dump-{args.scale}x-wide.json"
    write_scaled(work / "dump-1x.json", wide, args.scale, wide=True)
    print(f"\noffline: scan --from the {args.scale}× wide dump (4 namespaces, {args.scale}× as large), once ...",
          flush=True)
    run = measured(cmd(wide), work / f"scan-off-{args.scale}x-wide.json", timeout=7200)
    doc = ScanDoc.read(run.out)
    print(f"  {run.wall:.2f}s, peak RSS {mib(run.rss)}", flush=True)
    rows += [
        (f"offline {args.scale}× wide: Services, wall, peak RSS", f"{doc.services}, {run.wall:.2f}s, {mib(run.rss)} "
         f"(1 run)", ""),
        (f"offline {args.scale}× wide / 1× wall time", f"{run.wall / one:.2f} ×", f"≤ {args.scale * 1.1:g}"),
        (f"offline {args.scale}× wide: broken found",
         f"{len(doc.selector_no_pods)} selector, {len(doc.target_port)} target-port", ""),
    ]


def tree() -> str:
    """The commit measured, and whether svcdoctor/ had uncommitted changes (others edit it)."""
    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    dirty = git("status", "--porcelain", "--", "svcdoctor").splitlines()
    return git("log", "-1", "--format=%h %s")[:80] + (f" + {len(dirty)} changed files under svcdoctor/" if dirty else "")


def print_table(rows: list[tuple[str, str, str]]) -> None:
    w = max(len(r[0]) for r in rows)
    print("\n" + "=" * 100)
    print(f"{'figure':{w}}  value  [goal]   (medians; other processes share the 2 cores: figures are noisy)")
    print("-" * 100)
    for what, value, goal in rows:
        print(f"{what:{w}}  {value}" + (f"  [goal {goal}]" if goal else ""))
    print("=" * 100)
