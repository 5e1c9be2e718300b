"""Evidence: everything the checks may read, collected once.

Objects stay exactly as the API server returned them (apiVersion, kind, metadata, spec,
status), so a recording can be diffed against ``kubectl get -o yaml``. The accessors below
only *select* from them (the Service, its EndpointSlices, the pods its selector matches...).

A kind that was never collected is different from a kind with no objects: ``collected``
says which kinds the source really looked at, and ``gaps`` says what it tried to read and
could not (403, API error). Checks must not claim something is missing unless its kind
was collected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from . import kube
from .kube import Obj
from .target import Target

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Gap:
    """Something the source tried to read and could not."""

    what: str     # e.g. "list pods in namespace shop"
    reason: str   # e.g. "403 Forbidden: pods is forbidden: User ... cannot list ..."
    kind: str = ""  # the object kind it would have produced, if any

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "reason": self.reason, "kind": self.kind}


@dataclass
class Evidence:
    target: Target
    items: list[Obj]
    collected: set[str]
    observed_at: datetime
    source: str
    gaps: list[Gap] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    # Why probes did not run ("" when they ran, or when there was nothing to probe).
    probe_note: str = ""
    # Kinds whose API is not installed in the cluster (a read answered 404): looked, none.
    absent: set[str] = field(default_factory=set)
    # How observed_at was estimated when the source has no capture time (kubectl output);
    # "" when it is known. Checks that depend on an age say "could not verify" instead of
    # "not yet" when the estimate is all they have.
    observed_at_guess: str = ""
    # Filled by svcdoctor.loadbalancers.detect for LoadBalancer Services.
    lb_implementations: list[Any] = field(default_factory=list)
    # The L7 backend references in focus (svcdoctor.l7.refs.BackendRef), chosen by the
    # target resolver for ingress/NAME, route and URL targets; None for a Service target:
    # then every Ingress and route that names the Service (or nearly does) is in focus.
    # A backend Service diagnosed as part of such a chain gets [] (its front was checked
    # in the chain's own report) and ``reached_through`` says how traffic gets there.
    focus: list[Any] | None = None
    reached_through: list[str] = field(default_factory=list)
    # Namespaces whose Services were listed in full (live reads, recordings); None for
    # kubectl output, which holds what it holds: then its Services' namespaces count.
    service_namespaces: set[str] | None = None
    # Clients named on the command line (--client pod/NAME, --client-namespace NS,
    # --client-cidr CIDR): [{"pod": name, "namespace": ns} | {"namespace": ns} | {"cidr": c}].
    clients: list[dict[str, str]] = field(default_factory=list)
    # State read outside Kubernetes by the collect_external hook ({"aws": {...}}), recorded
    # and replayed like probe outcomes; external_note says why it was not read, if so.
    external: dict[str, Any] = field(default_factory=dict)
    external_note: str = ""
    # Derived data that does not depend on the target (the Ingress controllers running),
    # computed once and shared by every Service of a scan: see ``shared_value``.
    shared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def retarget(self, target: Target) -> "Evidence":
        """The same objects seen from another target (a scan's next Service): what does
        not depend on the target (``shared``: the index, events by object...) is shared."""
        self.shared["scope"] = True  # many Services will ask the same: worth indexing
        ev = dataclasses.replace(
            self, target=target, collected=set(self.collected), gaps=list(self.gaps),
            probes=list(self.probes), absent=set(self.absent), lb_implementations=[],
            reached_through=[], clients=list(self.clients), external=dict(self.external),
            service_namespaces=None if self.service_namespaces is None else set(self.service_namespaces),
            shared=self.shared)
        return ev

    def extend(self, objs: list[Obj]) -> None:
        """Add objects (a live diagnosis' next round of reads): the index grows with them;
        what they could change is computed afresh when next asked, the rest is kept."""
        kinds = {o.get("kind") for o in objs}
        if not kinds:
            return
        index = self.shared.get("index")
        self.items.extend(objs)
        def stale(key: str) -> bool:
            return key not in _DEPENDS or bool(_DEPENDS[key] & kinds)
        for key in [k for k in self.shared if k != "index" and stale(k)]:
            del self.shared[key]
        for key in _CACHED:
            if stale(key):
                self.__dict__.pop(key, None)
        if index is not None:
            for o in objs:
                by_ns = index.setdefault(o.get("kind"), {None: []})
                by_ns[None].append(o)
                by_ns.setdefault(kube.namespace(o), []).append(o)

    def shared_value(self, key: str, compute: Any) -> Any:
        """``compute()`` once per set of objects: a scan's Services share the answer.
        Only for answers that depend on the objects alone, never on the target."""
        if key not in self.shared:
            self.shared[key] = compute()
        return self.shared[key]

    # --- the Service and what hangs off it -------------------------------------------

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Obj]:
        by_kind = self.index.get(kind)
        if not by_kind:
            return []
        return list(by_kind[None] if namespace is None else by_kind.get(namespace, ()))

    @property
    def index(self) -> dict[str, dict[str | None, list[Obj]]]:
        """kind → namespace → objects in item order (None: every namespace), built once:
        a scan asks the same questions of thousands of objects for every Service."""
        return self.shared_value("index", self._build_index)

    def _build_index(self) -> dict[str, dict[str | None, list[Obj]]]:
        out: dict[str, dict[str | None, list[Obj]]] = {}
        for o in self.items:  # kube.namespace() inlined: this runs for every object of a scan
            by_ns = out.get(o.get("kind"))
            if by_ns is None:
                by_ns = out[o.get("kind")] = {None: []}
            by_ns[None].append(o)
            ns = (o.get("metadata") or {}).get("namespace", "")
            if ns in by_ns:
                by_ns[ns].append(o)
            else:
                by_ns[ns] = [o]
        return out

    def _events_by_object(self) -> dict[tuple[str, str, str], list[Obj]]:
        out: dict[tuple[str, str, str], list[Obj]] = {}
        for evt in self.of_kind("Event"):
            inv = kube.event_involved(evt)
            key = (inv.get("kind"), inv.get("name"), inv.get("namespace") or kube.namespace(evt))
            if all(isinstance(k, str) for k in key):
                out.setdefault(key, []).append(evt)  # type: ignore[arg-type]
        return out

    def _fronts(self) -> list[Obj]:
        from .l7.refs import fronts

        if not any(k == "Ingress" or str(k).endswith("Route") for k in self.index):
            return []
        return list(fronts(self.items))

    def fronts(self) -> list[Obj]:
        """Ingresses and Gateway API routes, in item order."""
        return list(self.shared_value("fronts", self._fronts))

    @cached_property
    def service(self) -> Obj:
        if self.target.kind != "Service":
            raise LookupError(f"{self.target} is not a Service")
        for svc in self.of_kind("Service", self.target.namespace):
            if kube.name(svc) == self.target.name:
                return svc
        raise LookupError(f"Service {self.target} is not in this evidence")

    @cached_property
    def l7_refs(self) -> list[Any]:
        """The Ingress and route backend references in focus (see ``focus``)."""
        from .l7 import hops

        return hops.in_focus(self)

    def service_named(self, namespace: str, name: str) -> Obj | None:
        for svc in self.of_kind("Service", namespace):
            if kube.name(svc) == name:
                return svc
        return None

    @property
    def selector(self) -> dict[str, str]:
        return kube.service_selector(self.service)

    @cached_property
    def endpoint_slices(self) -> list[Obj]:
        """Slices linked to the Service (by label, the only link the API honours)."""
        return [s for s in self.of_kind("EndpointSlice", self.target.namespace)
                if kube.labels(s).get(SERVICE_NAME_LABEL) == self.target.name]

    @cached_property
    def endpoints(self) -> Obj | None:
        """The legacy Endpoints object of the same name, if any."""
        for ep in self.of_kind("Endpoints", self.target.namespace):
            if kube.name(ep) == self.target.name:
                return ep
        return None

    @cached_property
    def namespace_pods(self) -> list[Obj]:
        return self.of_kind("Pod", self.target.namespace)

    @cached_property
    def selected_pods(self) -> list[Obj]:
        """Pods the selector matches and the EndpointSlice controller would publish."""
        sel = self.selector
        if not sel:
            return []
        return [p for p in self.pods_matching(sel, self.target.namespace) if not kube.pod_finished(p)]

    @cached_property
    def other_namespace_pods(self) -> list[Obj]:
        """Pods in other namespaces whose labels match the selector exactly."""
        sel = self.selector
        if not sel:
            return []
        return [p for p in self.pods_matching(sel) if kube.namespace(p) != self.target.namespace
                and not kube.pod_finished(p)]

    def pods_matching(self, selector: dict[str, str], namespace: str | None = None) -> list[Obj]:
        """Pods (finished ones too) whose labels hold every pair of ``selector``, in item
        order; in ``namespace``, or in all of them. Through an index of pods by label:
        a scan asks this of every Service."""
        if not selector or not all(isinstance(v, str) for v in selector.values()) or "scope" not in self.shared:
            # One diagnosis asks a few times: a pass over the pods is cheaper than an index.
            return [p for p in self.of_kind("Pod", namespace) if kube.selector_matches(selector, kube.labels(p))]
        index = self.shared_value("pods_by_label", self._pods_by_label)
        lists = [index.get((namespace, k, v), ()) for k, v in selector.items()]
        shortest = min(lists, key=len)
        return [p for p in shortest if kube.selector_matches(selector, kube.labels(p))]

    def _pods_by_label(self) -> dict[tuple[str | None, str, str], list[Obj]]:
        out: dict[tuple[str | None, str, str], list[Obj]] = {}
        for p in self.of_kind("Pod"):
            ns = kube.namespace(p)
            for k, v in kube.labels(p).items():
                if isinstance(v, str):
                    out.setdefault((ns, k, v), []).append(p)
                    out.setdefault((None, k, v), []).append(p)
        return out

    @property
    def nodes(self) -> dict[str, Obj]:
        return self.shared_value("nodes", lambda: {kube.name(n): n for n in self.of_kind("Node")})

    def events_for(self, kind: str, name: str, namespace: str | None = None) -> list[Obj]:
        """Events about one object, oldest first (by last time seen)."""
        ns = self.target.namespace if namespace is None else namespace
        return list(self.shared_value("events", self._events_by_object).get((kind, name, ns), ()))

    @property
    def probe_results(self) -> list[Any]:
        from .probes import of

        return of(self.probes)

    def node_address(self, node: Obj, address_type: str = "InternalIP") -> str:
        for addr in (node.get("status") or {}).get("addresses") or []:
            if addr.get("type") == address_type:
                return str(addr.get("address", ""))
        return ""

    def ready_endpoint_nodes(self) -> dict[str, int]:
        """node name → ready endpoints there (from EndpointSlices; pods as a fallback)."""
        out: dict[str, int] = {}
        if self.endpoint_slices:
            for s in self.endpoint_slices:
                for e in s.get("endpoints") or []:
                    cond = e.get("conditions") or {}
                    if cond.get("ready") is not False and e.get("nodeName"):
                        out[e["nodeName"]] = out.get(e["nodeName"], 0) + 1
            return out
        for p in self.selected_pods:
            if kube.pod_ready(p) and not kube.pod_terminating(p) and kube.pod_node(p):
                out[kube.pod_node(p)] = out.get(kube.pod_node(p), 0) + 1
        return out

    def was_collected(self, *kinds: str) -> bool:
        """Each kind was read: its objects are here, or its API is not installed."""
        return all(k in self.collected or k in self.absent for k in kinds)

    def event_span(self, evt: Obj) -> str:
        """How often and over how long an event happened: "9 times over 18m" / "once, 5m ago"."""
        count, first = kube.event_count(evt), kube.event_first_seen(evt)
        if count > 1 and first:
            return f"{count} times over {self.age(first)}"
        return f"once, {self.age(kube.event_last_seen(evt))} ago"

    def age(self, when: datetime | None) -> str:
        if when is None:
            return "?"
        return kube.format_age((self.observed_at - when).total_seconds())


# Evidence's per-target derived values, dropped when objects are added...
_CACHED = tuple(k for k, v in vars(Evidence).items() if isinstance(v, cached_property))
# ...unless none of the added objects is of a kind they are made of (others: always).
_DEPENDS: dict[str, set[Any]] = {
    "service": {"Service"}, "endpoint_slices": {"EndpointSlice"}, "endpoints": {"Endpoints"},
    "namespace_pods": {"Pod"}, "selected_pods": {"Pod", "Service"}, "other_namespace_pods": {"Pod", "Service"},
    "events": {"Event"}, "nodes": {"Node"}, "pods_by_label": {"Pod"}, "l7.running": {"Pod", "Node"},
}
