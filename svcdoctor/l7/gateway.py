"""Gateway API attachment, computed from the objects: which Gateway a route's parentRef
names, whether a listener admits the route (allowedRoutes, hostnames), whether a
ReferenceGrant permits a cross-namespace backendRef, and the conditions controllers wrote.

Semantics from the Gateway API spec (sigs.k8s.io/gateway-api apis/v1): a parentRef's
namespace defaults to the route's; ``allowedRoutes.namespaces.from`` defaults to Same;
a listener without hostname matches every host; a route without hostnames matches every
listener host; ``*.example.com`` matches exactly one or more labels in front of it
(listener wildcards match any subdomain depth per the spec, route wildcards likewise).
"""

from __future__ import annotations

from dataclasses import dataclass
from .. import kube
from ..kube import Obj
from . import GATEWAY_GROUP
from .refs import BackendRef


def condition(status: Obj | None, type_: str) -> Obj | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_false(c: Obj | None) -> bool:
    return c is not None and c.get("status") == "False"


def is_true(c: Obj | None) -> bool:
    return c is not None and c.get("status") == "True"


@dataclass(frozen=True)
class Parent:
    """A route's parentRef resolved against the Gateways in the evidence."""

    namespace: str
    name: str
    section: str              # listener name ("" = all)
    port: int | None
    gateway: Obj | None       # None when no such Gateway was collected
    status: Obj | None        # the route's status.parents[] entry for it, if any
    index: int = 0            # its place in spec.parentRefs

    @property
    def ref(self) -> str:
        return f"Gateway {self.namespace}/{self.name}" + (f" listener {self.section}" if self.section else "")


def parents(route: Obj, gateways: list[Obj]) -> list[Parent]:
    ns = kube.namespace(route)
    by_name = {(kube.namespace(g), kube.name(g)): g for g in gateways}
    statuses = (route.get("status") or {}).get("parents") or []
    out = []
    for i, p in enumerate((route.get("spec") or {}).get("parentRefs") or []):
        if (p.get("kind") or "Gateway") != "Gateway" or (p.get("group") or GATEWAY_GROUP) != GATEWAY_GROUP:
            continue  # a ListenerSet or a mesh Service parent: not svcdoctor's business here
        pns, pname = str(p.get("namespace") or ns), str(p.get("name") or "")
        section = str(p.get("sectionName") or "")
        st = next((s for s in statuses
                   if (s.get("parentRef") or {}).get("name") == pname
                   and str((s.get("parentRef") or {}).get("namespace") or ns) == pns
                   and str((s.get("parentRef") or {}).get("sectionName") or "") == section), None)
        out.append(Parent(pns, pname, section, p.get("port") if isinstance(p.get("port"), int) else None,
                          by_name.get((pns, pname)), st, i))
    return out


def listeners(gateway: Obj, section: str = "", port: int | None = None) -> list[Obj]:
    ls = (gateway.get("spec") or {}).get("listeners") or []
    return [lst for lst in ls if (not section or lst.get("name") == section)
            and (port is None or lst.get("port") == port)]


ROUTE_PROTOCOLS = {"HTTPRoute": {"HTTP", "HTTPS"}, "GRPCRoute": {"HTTP", "HTTPS"},
                   "TLSRoute": {"TLS"}, "TCPRoute": {"TCP"}, "UDPRoute": {"UDP"}}


def listener_admits_kind(listener: Obj, kind: str) -> bool:
    kinds = ((listener.get("allowedRoutes") or {}).get("kinds")) or []
    if kinds:
        return any(k.get("kind") == kind and (k.get("group") or GATEWAY_GROUP) == GATEWAY_GROUP for k in kinds)
    return str(listener.get("protocol") or "") in ROUTE_PROTOCOLS.get(kind, set())


def listener_admits_namespace(listener: Obj, gateway: Obj, route_ns: str,
                              namespaces: dict[str, Obj]) -> bool | None:
    """True/False, or None when the namespace's labels were not collected (Selector)."""
    ns_rule = ((listener.get("allowedRoutes") or {}).get("namespaces")) or {}
    frm = ns_rule.get("from") or "Same"
    if frm == "All":
        return True
    if frm == "Same":
        return route_ns == kube.namespace(gateway)
    if frm == "Selector":
        ns_obj = namespaces.get(route_ns)
        if ns_obj is None:
            return None
        return kube.label_selector_matches(ns_rule.get("selector"), kube.labels(ns_obj))
    return False  # None / unknown values admit nothing


def allowed_from(listener: Obj) -> str:
    ns_rule = ((listener.get("allowedRoutes") or {}).get("namespaces")) or {}
    frm = ns_rule.get("from") or "Same"
    if frm == "Selector":
        sel = ns_rule.get("selector") or {}
        return "namespaces with labels " + (kube.format_selector(sel.get("matchLabels") or {}) or "(expressions)")
    return {"Same": "its own namespace only", "All": "all namespaces"}.get(frm, frm)


def host_matches(pattern: str, host: str) -> bool:
    """A Gateway/Ingress hostname (exact or ``*.suffix``) against a concrete host."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def hostnames_intersect(listener_host: str, route_hosts: list[str]) -> bool:
    if not listener_host or not route_hosts:
        return True
    for h in route_hosts:
        if host_matches(listener_host, h) or host_matches(h, listener_host):
            return True
        if h.startswith("*.") and listener_host.startswith("*."):
            a, b = h[2:], listener_host[2:]
            if a.endswith(b) or b.endswith(a):
                return True
    return False


# --- ReferenceGrant ------------------------------------------------------------------------

def grant_permits(grant: Obj, ref: BackendRef) -> bool:
    """Does this ReferenceGrant (in the backend's namespace) admit the reference?"""
    if kube.namespace(grant) != ref.namespace:
        return False
    spec = grant.get("spec") or {}
    owner = ref.owner
    from_ok = any(f.get("group") == GATEWAY_GROUP and f.get("kind") == owner.get("kind")
                  and f.get("namespace") == kube.namespace(owner) for f in spec.get("from") or [])
    to_ok = any((t.get("group") or "") == ref.group and t.get("kind") == ref.kind
                and (not t.get("name") or t.get("name") == ref.name) for t in spec.get("to") or [])
    return from_ok and to_ok


def grant_gaps(grant: Obj, ref: BackendRef) -> list[str]:
    """What keeps a grant in the right namespace from admitting the reference, in words."""
    spec = grant.get("spec") or {}
    owner = ref.owner
    gaps = []
    froms = spec.get("from") or []
    if not any(f.get("group") == GATEWAY_GROUP and f.get("kind") == owner.get("kind")
               and f.get("namespace") == kube.namespace(owner) for f in froms):
        seen = ", ".join(f"{f.get('kind')} in {f.get('namespace')}" for f in froms) or "nothing"
        gaps.append(f"its from admits {seen}, not {owner.get('kind')} in {kube.namespace(owner)}")
    tos = spec.get("to") or []
    if not any((t.get("group") or "") == ref.group and t.get("kind") == ref.kind
               and (not t.get("name") or t.get("name") == ref.name) for t in tos):
        seen = ", ".join(f"{t.get('kind')}" + (f" {t.get('name')}" if t.get("name") else "") for t in tos) or "nothing"
        gaps.append(f"its to admits {seen}, not Service {ref.name}")
    return gaps


def needs_grant(ref: BackendRef) -> bool:
    return ref.namespace != kube.namespace(ref.owner)


def parent_condition(parent: Parent, type_: str) -> Obj | None:
    return condition(parent.status, type_)


def describe_condition(c: Obj | None) -> str:
    if c is None:
        return "not set"
    text = f"{c.get('type')}={c.get('status')}"
    if c.get("reason"):
        text += f" ({c['reason']})"
    if c.get("message"):
        text += ": " + str(c["message"]).rstrip(".")
    return text


def gateway_class(gateway: Obj, classes: list[Obj]) -> Obj | None:
    want = (gateway.get("spec") or {}).get("gatewayClassName")
    return next((c for c in classes if kube.name(c) == want), None)


def addresses(gateway: Obj) -> list[str]:
    return [str(a.get("value")) for a in (gateway.get("status") or {}).get("addresses") or [] if a.get("value")]


def any_of(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o.get("kind") == kind]
