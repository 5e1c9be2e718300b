"""``svcdoctor scan``: every Service of a namespace or cluster, diagnosed the way
``svcdoctor diagnose`` diagnoses one — the same evidence, checks and wording — from lists
read once for the whole scope (see :mod:`svcdoctor.scan.lists`).

    result = scan.live(Scope(all_namespaces=True))       # the cluster, probes off
    result = scan.offline("dump.json", Scope())          # kubectl output or a recording
    result.reports                                       # one Report per Service

Surfaces (CLI, Slack, MCP) call these two functions and render :class:`ScanResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote

from .. import kube
from ..diagnose import diagnose
from ..errors import ClusterError, NotFoundError, SvcdoctorError
from ..evidence import Evidence
from ..kube import Obj
from ..report import Report
from ..target import Target

# progress(done, total, "namespace/name") after each Service.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Scope:
    namespace: str | None = None   # -n; None with all_namespaces False: the context's
    all_namespaces: bool = False   # -A
    selector: str = ""             # -l, over the Services' labels

    def describe(self, namespace: str | None = None) -> str:
        ns = self.namespace or namespace
        where = "all namespaces" if self.all_namespaces or not ns else f"namespace {ns}"
        return where + (f", Services matching {self.selector}" if self.selector else "")


@dataclass
class ScanResult:
    scope: str                      # "namespace shop", "all namespaces, Services matching tier=web"
    source: str                     # "cluster https://…", "dump.json (captured at …)"
    reports: list[Report] = field(default_factory=list)
    # Services of the scope that got no report, and why (an API error mid-scan, Ctrl-C).
    not_diagnosed: list[tuple[str, str]] = field(default_factory=list)
    # What could not be read for the scope as a whole (a namespace's Services: 403).
    missing: list[str] = field(default_factory=list)
    interrupted: bool = False
    requests: int = 0               # API requests of the whole scan (live only)
    seconds: float = 0.0
    lists: list[str] = field(default_factory=list)   # the API paths read (live only)

    @property
    def total(self) -> int:
        return len(self.reports) + len(self.not_diagnosed)


def _run(targets: list[Target], evidence_for: Callable[[Target], Evidence],
         run: Callable[[Evidence], Report], progress: Progress | None, result: ScanResult) -> ScanResult:
    """Diagnose each target in turn; an error stops only that Service, Ctrl-C the scan
    (what was finished is kept, the rest listed as not diagnosed)."""
    started = time.monotonic()
    done = 0
    try:
        for t in targets:
            try:
                report = run(evidence_for(t))
            except SvcdoctorError as exc:
                result.not_diagnosed.append((str(t), " ".join(str(exc).split())))
            else:
                result.reports.append(report)
            done += 1
            if progress:
                progress(done, len(targets), str(t))
    except KeyboardInterrupt:
        result.interrupted = True
        result.not_diagnosed += [(str(t), "not reached: the scan was interrupted") for t in targets[done:]]
    result.seconds = time.monotonic() - started
    return result


def _diagnoser(playbooks_dir: str | None, disable: Iterable[str]) -> Callable[[Evidence], Report]:
    from ..wording import Playbooks

    playbooks = Playbooks.load(playbooks_dir)
    disabled = list(disable)
    return lambda ev: diagnose(ev, playbooks=playbooks, disable=disabled)


def _select(services: Iterable[Obj], scope: Scope) -> list[Target]:
    keep: Callable[[Obj], bool] = lambda _: True
    if scope.selector:
        from ..selectors import label_test

        keep = label_test(scope.selector)
    found = {(kube.namespace(s), kube.name(s)) for s in services if keep(s)}
    return [Target(ns, name) for ns, name in sorted(found)]


# --- live ---------------------------------------------------------------------------

def live(scope: Scope, *, context: str | None = None, kubeconfig: str | None = None,
         timeout: float | None = None, probe: Any = None, cloud: Any = None,
         clients: list[dict[str, str]] | None = None, playbooks: str | None = None,
         disable: Iterable[str] = (), progress: Progress | None = None,
         probe_deadline: float = 60.0) -> ScanResult:
    """Scan a live cluster. Probes run only when ``probe.enabled`` (one Service at a time,
    until ``probe_deadline`` seconds have passed); the cloud is read only when ``cloud``
    names one."""
    from .. import external, probes, probing, registry as registry_mod
    from ..selectors import parse_labels
    from ..sources.live import collect, connect
    from .lists import ScopeClient, scope_lists

    if scope.selector:
        parse_labels(scope.selector)  # bad input fails before any read
    client, default_ns = connect(context, kubeconfig, timeout)
    ns = None if scope.all_namespaces else (scope.namespace or default_ns)
    sc = ScopeClient(client, scope.all_namespaces, ns)
    sc.prefetch(scope_lists(scope.all_namespaces, ns))
    result = ScanResult(scope.describe(ns), f"cluster {client.host}")
    services = _live_services(sc, ns, result)
    reg = registry_mod.default()
    probe = probe or probes.ProbeOptions(enabled=False)
    deadline = time.monotonic() + probe_deadline

    def evidence_for(t: Target) -> Evidence:
        named = [{**c, "namespace": c.get("namespace") or t.namespace} if "cidr" not in c else c
                 for c in clients or []]
        ev = collect(sc, t, source_host=client.host, registry=reg, clients=named)
        ev.source = f"cluster {client.host} (scan of {result.scope})"
        # As diagnose --cloud none --no-probe unless asked: the same findings from the same data.
        if cloud is not None and cloud.cloud not in (None, "none"):
            external.collect(ev, reg, cloud)
        else:
            ev.external_note = "cloud reads are off in a scan (--cloud PROVIDER reads them)"
        if probe.enabled and time.monotonic() >= deadline:
            ev.probe_note = f"not probed: the scan's probe deadline ({probe_deadline:g}s) had passed"
        else:
            probing.probe(ev, reg, probe)
        return ev

    _run(_select(services, scope), evidence_for, _diagnoser(playbooks, disable), progress, result)
    result.requests, result.lists = client.requests, sc.fetched()
    return result


def _live_services(sc: Any, namespace: str | None, result: ScanResult) -> list[Obj]:
    """The scope's Services; with -A and no right to list them cluster-wide, namespace by
    namespace, each namespace that refuses going to ``result.missing``."""
    from ..sources.live import Forbidden, Missing

    if namespace is not None:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/services"
        try:
            services = sc.list(path, "Service", f"list services in namespace {namespace}")
        except Forbidden as exc:
            raise ClusterError(f"not allowed to list Services in namespace {namespace} ({exc.message}); "
                               "svcdoctor needs the read-only role in deploy/rbac.yaml") from None
        if not services:
            _check_namespace(sc, namespace)
        return services
    try:
        return sc.list("/api/v1/services", "Service", "list services in all namespaces")
    except Forbidden as exc:
        refused = exc.message
    try:
        names = [kube.name(n) for n in sc.client.list("/api/v1/namespaces", "Namespace", "list namespaces")]
    except (Forbidden, Missing):
        raise ClusterError(f"not allowed to list Services in all namespaces ({refused}), nor to list "
                           "namespaces; scan namespaces one at a time with -n NAMESPACE") from None
    out: list[Obj] = []
    for ns in names:
        try:
            out += sc.list(f"/api/v1/namespaces/{quote(ns, safe='')}/services", "Service",
                           f"list services in namespace {ns}")
        except Forbidden as exc:
            result.missing.append(f"the Services of namespace {ns}: {exc.message}")
    return out


def _check_namespace(sc: Any, namespace: str) -> None:
    """No Service: say so if the namespace itself does not exist (with close names)."""
    from ..similar import suggestion
    from ..sources.live import Forbidden, Missing

    try:
        sc.client.get(f"/api/v1/namespaces/{quote(namespace, safe='')}", f"get namespace {namespace}")
    except Missing:
        try:
            names = [kube.name(n) for n in sc.client.list("/api/v1/namespaces", "Namespace", "list namespaces")]
        except (Forbidden, Missing):
            names = []
        raise NotFoundError(f"namespace {namespace!r} not found" + suggestion(namespace, names)) from None
    except Forbidden:
        pass


# --- offline ------------------------------------------------------------------------

def offline(path: str | Path, scope: Scope, *, observed_at: datetime | None = None,
            playbooks: str | None = None, disable: Iterable[str] = (),
            progress: Progress | None = None) -> ScanResult:
    """Scan kubectl output, a cluster-info dump or a recording (its one Service). Without
    ``scope.namespace`` every namespace in the input is scanned."""
    from ..selectors import parse_labels
    from ..sources import kubectl, recording

    if scope.selector:
        parse_labels(scope.selector)
    p = Path(path)
    where = str(path)
    docs = kubectl.load_documents(p) if p.is_file() else None
    if docs is not None and len(docs) == 1 and recording.is_recording(docs[0]):
        ev = recording.evidence_from_recording(docs[0], where)
        views: Callable[[Target], Evidence] = lambda t: ev
        services = ev.of_kind("Service")
        services = [s for s in services if (kube.namespace(s), kube.name(s)) ==
                    (ev.target.namespace, ev.target.name)]
        source = ev.source
    else:
        if docs is None:
            items = kubectl.load_items(p)
        else:
            many = len(docs) > 1
            items = [o for n, d in enumerate(docs)
                     for o in kubectl.flatten(d, where, f"document {n + 1}" if many else "")]
        base = kubectl.offline_evidence(items, where, observed_at)
        views = base.retarget
        services = base.of_kind("Service")
        source = base.source
    if scope.namespace:
        here = [s for s in services if kube.namespace(s) == scope.namespace]
        if not here:
            from ..similar import suggestion

            namespaces = sorted({kube.namespace(s) for s in services})
            raise NotFoundError(f"no Service in namespace {scope.namespace!r} in {where}"
                                + (suggestion(scope.namespace, namespaces)
                                   or (f"; namespaces with Services: {', '.join(namespaces[:10])}" if namespaces else "")))
        services = here
    result = ScanResult(scope.describe(), source)
    return _run(_select(services, scope), views, _diagnoser(playbooks, disable), progress, result)
