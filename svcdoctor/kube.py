"""Small, pure readers over raw Kubernetes objects (dicts as the API returns them).

Checks use these instead of poking at nested dicts, so the quirks of the API (defaults,
optional fields, two Event shapes) are handled in one place.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

Obj = dict[str, Any]


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return meta(obj).get("name", "")


def namespace(obj: Obj) -> str:
    return meta(obj).get("namespace", "")


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def ref(obj: Obj) -> str:
    """``Kind ns/name`` — how objects are cited in evidence."""
    ns = namespace(obj)
    return f"{obj.get('kind', 'Object')} {ns + '/' if ns else ''}{name(obj)}"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # The API always says UTC; a hand-written time without a zone means it too.
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def format_age(seconds: float) -> str:
    """kubectl-style short age: 45s, 12m, 3h, 2d."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# --- selectors -------------------------------------------------------------------------

def selector_matches(selector: dict[str, str], obj_labels: dict[str, str]) -> bool:
    return all(obj_labels.get(k) == v for k, v in selector.items())


def label_selector_matches(selector: Obj | None, obj_labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions); empty selects everything."""
    selector = selector or {}
    if not selector_matches(selector.get("matchLabels") or {}, obj_labels):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {"In": key in obj_labels and obj_labels[key] in values,
              "NotIn": key not in obj_labels or obj_labels[key] not in values,
              "Exists": key in obj_labels, "DoesNotExist": key not in obj_labels}.get(op, False)
        if not ok:
            return False
    return True


def format_selector(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# --- Services --------------------------------------------------------------------------

def service_type(svc: Obj) -> str:
    return (svc.get("spec") or {}).get("type") or "ClusterIP"


def service_selector(svc: Obj) -> dict[str, str]:
    return (svc.get("spec") or {}).get("selector") or {}


def service_ports(svc: Obj) -> list[Obj]:
    return (svc.get("spec") or {}).get("ports") or []


def port_protocol(port: Obj) -> str:
    return port.get("protocol") or "TCP"


def target_port(port: Obj) -> int | str:
    """The targetPort, defaulted to ``port`` as the API server does."""
    tp = port.get("targetPort")
    if tp in (None, "", 0):
        return int(port.get("port", 0))
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    return tp


def port_label(port: Obj) -> str:
    """``http (80/TCP)`` or ``80/TCP`` for an unnamed port."""
    base = f"{port.get('port')}/{port_protocol(port)}"
    return f"{port['name']} ({base})" if port.get("name") else base


def is_headless(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


# --- Pods ------------------------------------------------------------------------------

def condition(obj: Obj, type_: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def pod_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def pod_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def pod_phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def pod_finished(pod: Obj) -> bool:
    # The EndpointSlice controller never publishes Succeeded/Failed pods.
    return pod_phase(pod) in ("Succeeded", "Failed")


def pod_node(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def serving_containers(pod: Obj) -> Iterator[Obj]:
    """Containers whose ports can back a Service: app containers and sidecars
    (init containers with ``restartPolicy: Always``), as the EndpointSlice controller sees them."""
    spec = pod.get("spec") or {}
    yield from spec.get("containers") or []
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            yield c


def declared_ports(pod: Obj) -> list[tuple[str, str, int, str]]:
    """(container, port name, containerPort, protocol) for every declared port."""
    out = []
    for c in serving_containers(pod):
        for p in c.get("ports") or []:
            out.append((c.get("name", ""), p.get("name", ""), int(p.get("containerPort", 0)),
                        p.get("protocol") or "TCP"))
    return out


def probe_ports(pod: Obj) -> set[int]:
    """Numeric ports the readiness/liveness/startup probes hit (named ones resolved)."""
    out: set[int] = set()
    for c in serving_containers(pod):
        named = {p.get("name"): int(p.get("containerPort", 0)) for p in c.get("ports") or []}
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = c.get(kind) or {}
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = (probe.get(handler) or {}).get("port")
                if isinstance(port, int):
                    out.add(port)
                elif isinstance(port, str):
                    if port.isdigit():
                        out.add(int(port))
                    elif port in named:
                        out.add(named[port])
    return out


def workload(pod: Obj) -> str:
    """The workload a pod belongs to: ``Deployment web``, ``StatefulSet db``, ``Pod debug``.

    A ReplicaSet owner is reported as its Deployment (name minus the pod-template-hash),
    so the two ReplicaSets of a rolling update count as one workload."""
    for owner in meta(pod).get("ownerReferences") or []:
        if not owner.get("controller"):
            continue
        kind, oname = owner.get("kind", ""), owner.get("name", "")
        if kind == "ReplicaSet":
            pth = labels(pod).get("pod-template-hash")
            if pth and oname.endswith("-" + pth):
                return f"Deployment {oname[: -len(pth) - 1]}"
            return f"ReplicaSet {oname}"
        return f"{kind} {oname}"
    return f"Pod {name(pod)}"


def waiting_reasons(pod: Obj) -> list[str]:
    """Container states worth quoting: CrashLoopBackOff, ImagePullBackOff, ..."""
    out = []
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            out.append(f"{cs.get('name')}: {waiting['reason']}")
    return out


# --- Nodes -----------------------------------------------------------------------------

def node_ready_status(node: Obj) -> str:
    """``True``, ``False`` or ``Unknown`` (the Ready condition's status)."""
    cond = condition(node, "Ready")
    return (cond or {}).get("status") or "Unknown"


# --- Events (core/v1 and events.k8s.io/v1 shapes) ---------------------------------------

def event_involved(evt: Obj) -> Obj:
    return evt.get("involvedObject") or evt.get("regarding") or {}


def event_message(evt: Obj) -> str:
    return (evt.get("message") or evt.get("note") or "").strip()


def event_count(evt: Obj) -> int:
    series = evt.get("series") or {}
    return int(series.get("count") or evt.get("count") or evt.get("deprecatedCount") or 1)


def event_source(evt: Obj) -> str:
    src = evt.get("source") or evt.get("deprecatedSource") or {}
    return src.get("component") or evt.get("reportingComponent") or evt.get("reportingController") or ""


def event_first_seen(evt: Obj) -> datetime | None:
    return (parse_time(evt.get("firstTimestamp")) or parse_time(evt.get("deprecatedFirstTimestamp"))
            or parse_time(evt.get("eventTime")) or parse_time(meta(evt).get("creationTimestamp")))


def event_last_seen(evt: Obj) -> datetime | None:
    series = evt.get("series") or {}
    return (parse_time(series.get("lastObservedTime")) or parse_time(evt.get("lastTimestamp"))
            or parse_time(evt.get("deprecatedLastTimestamp")) or parse_time(evt.get("eventTime"))
            or event_first_seen(evt))


def seen_after(a: Obj | None, b: Obj | None) -> bool:
    """Event ``a`` exists and was last seen no earlier than event ``b`` (or there is no ``b``):
    e.g. a success that supersedes a failure. Undated events count as recent."""
    if a is None:
        return False
    if b is None:
        return True
    seen_a, seen_b = event_last_seen(a), event_last_seen(b)
    return seen_a is None or seen_b is None or seen_a >= seen_b


def latest(events: Iterable[Obj]) -> Obj | None:
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    best = None
    for evt in events:
        if best is None or (event_last_seen(evt) or epoch) >= (event_last_seen(best) or epoch):
            best = evt
    return best
