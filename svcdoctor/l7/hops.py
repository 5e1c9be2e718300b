"""Which L7 backend references a diagnosis looks at.

For a Service target: every Ingress and route backend naming this Service, plus the near
misses that were probably meant for it — an Ingress in another namespace naming a Service
of this name (an Ingress only reaches Services in its own namespace), and a reference in
this namespace naming a Service that does not exist and is clearly closest to this one.
For an L7 target the resolver chose the references (``evidence.focus``).
"""

from __future__ import annotations

from typing import Any

from .. import kube, similar
from . import refs as refs_mod
from .refs import BackendRef


def in_focus(evidence: Any) -> list[BackendRef]:
    if evidence.focus is not None:
        return list(evidence.focus)
    if evidence.target.kind == "URL":
        from . import urls

        matches = urls.select(list(evidence.fronts()), urls.parse(evidence.target.name),
                              evidence.of_kind("Gateway"))
        return [r for m in matches for r in m.refs]
    if evidence.target.kind != "Service":
        return [r for o in evidence.of_kind(evidence.target.kind, evidence.target.namespace)
                if kube.name(o) == evidence.target.name for r in refs_mod.backends(o)]
    ns, name = evidence.target.namespace, evidence.target.name
    out: list[BackendRef] = []
    for obj in evidence.fronts():
        for r in refs_mod.backends(obj):
            if not refs_mod.is_service_ref(r):
                continue
            if r.namespace == ns and r.name == name:
                out.append(r)
            elif near_miss(evidence, r):
                out.append(r)
    return out


def near_miss(evidence: Any, r: BackendRef) -> bool:
    """A reference that names no existing Service and was most likely meant for the target."""
    ns, name = evidence.target.namespace, evidence.target.name
    if r.owner.get("kind") == "Ingress" and r.name == name and r.namespace != ns:
        # An Ingress elsewhere naming this Service: it exists here, not there.
        return exists(evidence, r.namespace, r.name) is False
    if r.namespace != ns or r.name == name or exists(evidence, ns, r.name) is not False:
        return False
    here = [kube.name(s) for s in evidence.of_kind("Service", ns)]
    ranked = similar.rank(r.name, here)
    return similar.clear_winner(ranked) == name


def exists(evidence: Any, namespace: str, name: str) -> bool | None:
    """Whether Service namespace/name exists; None when the evidence cannot say.

    Services are known when they were listed in that namespace (``Service`` collected
    there), or from a route's own status (``ResolvedRefs=False/BackendNotFound``)."""
    if evidence.service_named(namespace, name) is not None:
        return True
    if namespace in services_listed(evidence):
        return False
    return None


def services_listed(evidence: Any) -> set[str]:
    """Namespaces whose Services the evidence holds in full."""
    if evidence.service_namespaces is not None:
        return set(evidence.service_namespaces)
    # Offline input (kubectl get svc -A, dumps) holds every Service it has; a recording
    # says so through what it collected. One Service alone (a live Service target) is not a list.
    services = evidence.of_kind("Service")
    if evidence.source.startswith("cluster "):
        return set()
    return {kube.namespace(s) for s in services}
