"""What the L7 checks need from a live cluster, planned round by round so that a Service
nobody routes to costs at most two lists (Ingresses, GatewayClasses), and Gateway API
objects are read only where Gateway API is in use.

    round 1  Ingresses (all namespaces); GatewayClasses (404: Gateway API not installed)
    round 2  only if a GatewayClass exists: HTTPRoutes, GRPCRoutes, TLSRoutes, TCPRoutes
    round 3  only if something routes to the Service (or nearly does):
             IngressClasses and the Ingress controller pods (for Ingresses);
             Gateways, and ReferenceGrants when a backendRef crosses namespaces (for routes);
             the Services of a namespace where a reference names a Service that may not exist
    round 4  only if a listener admits routes by namespace selector: Namespaces

For an L7 target (ingress/NAME, a route, a URL) the object(s) in front are read first; the
rounds then add the same details, the Ingresses' events, and the backend namespaces'
Services.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote

from svcdoctor import hookimpl, kube
from svcdoctor.l7 import GATEWAY_GROUP, ROUTE_KINDS
from svcdoctor.l7.classes import CONTROLLERS
from svcdoctor.l7.refs import backends, is_service_ref
from svcdoctor.l7 import gateway as gw

GW = f"/apis/{GATEWAY_GROUP}/v1/"
# Namespaces whose Services are listed to tell a missing backend from one not looked at;
# a reference into a namespace beyond these stays unverified (never "missing").
MAX_SERVICE_LISTS = 3
# The label the Ingress controllers' Helm charts and manifests put on their pods.
CONTROLLER_SELECTOR = "app.kubernetes.io/name in ({})".format(
    ",".join(sorted({n for c in CONTROLLERS for n in c.pod_names} | {"envoy"})))
# GEP-1762: pods of in-cluster Gateway deployments (Istio, kgateway, NGINX Gateway Fabric).
GATEWAY_POD_SELECTOR = "gateway.networking.k8s.io/gateway-name"


def _looked(ev: Any, kind: str) -> bool:
    return ev.was_collected(kind) or any(g.kind == kind for g in ev.gaps)


@hookimpl
def plan_reads(evidence: Any, read: Callable[..., None]) -> None:
    ev = evidence
    kind = ev.target.kind
    if kind == "Service":
        if not _looked(ev, "Ingress"):
            read("Ingress", "/apis/networking.k8s.io/v1/ingresses", "list Ingresses in all namespaces")
        if not _looked(ev, "GatewayClass"):
            read("GatewayClass", GW + "gatewayclasses", "list GatewayClasses")
            return
        if ev.of_kind("GatewayClass"):
            for route, plural in ROUTE_KINDS.items():
                if not _looked(ev, route):
                    read(route, GW + plural, f"list {route}s in all namespaces")
        refs = _candidates(ev)
    else:
        refs = ev.l7_refs
    if not refs:
        return
    owners = {r.owner.get("kind") for r in refs}
    if kind != "Service":  # a Service target's own namespace events are read already
        for ns in sorted({kube.namespace(r.owner) for r in refs if r.owner.get("kind") == "Ingress"}):
            read("Event", f"/api/v1/namespaces/{quote(ns, safe='')}/events?fieldSelector="
                 + quote("involvedObject.kind=Ingress", safe=""), f"list Ingress events in namespace {ns}")
    if "Ingress" in owners and not _looked(ev, "IngressClass"):
        read("IngressClass", "/apis/networking.k8s.io/v1/ingressclasses", "list IngressClasses")
        read("Pod", "/api/v1/pods?labelSelector=" + quote(CONTROLLER_SELECTOR, safe=""),
             "list Ingress controller pods in all namespaces")
    if owners - {"Ingress"}:
        if not _looked(ev, "GatewayClass"):
            read("GatewayClass", GW + "gatewayclasses", "list GatewayClasses")
        if not _looked(ev, "Gateway"):
            read("Gateway", GW + "gateways", "list Gateways in all namespaces")
            read("Pod", "/api/v1/pods?labelSelector=" + quote(GATEWAY_POD_SELECTOR, safe=""),
                 "list Gateway data-plane pods in all namespaces")
        if any(gw.needs_grant(r) for r in refs if r.owner.get("kind") != "Ingress") \
                and not _looked(ev, "ReferenceGrant"):
            read("ReferenceGrant", f"/apis/{GATEWAY_GROUP}/v1beta1/referencegrants",
                 "list ReferenceGrants in all namespaces")
        if not _looked(ev, "Namespace") and _selector_listeners(ev):
            read("Namespace", "/api/v1/namespaces", "list Namespaces")
    listed = ev.service_namespaces or set()
    unknown = sorted({r.namespace for r in refs if not _known(ev, r)} - listed)
    home = ev.target.namespace if ev.target.kind == "Service" else ""
    for ns in sorted(unknown, key=lambda n: (n != home, n))[:MAX_SERVICE_LISTS - len(listed)]:
        read("Service", f"/api/v1/namespaces/{quote(ns, safe='')}/services", f"list services in namespace {ns}")


def _known(ev: Any, r: Any) -> bool:
    return ev.service_named(r.namespace, r.name) is not None


def _candidates(ev: Any) -> list[Any]:
    """References to the target, and those that might be near misses of it (their Services'
    existence is what the next round reads)."""
    from svcdoctor import similar

    ns, name = ev.target.namespace, ev.target.name
    out = []
    for obj in ev.fronts():
        for r in backends(obj):
            if not is_service_ref(r):
                continue
            if (r.namespace, r.name) == (ns, name):
                out.append(r)
            elif r.name == name and obj.get("kind") == "Ingress":
                out.append(r)
            elif r.namespace == ns and similar.closeness(r.name, name) >= similar.STRONG:
                out.append(r)
    return out


def _selector_listeners(ev: Any) -> bool:
    return any(((lst.get("allowedRoutes") or {}).get("namespaces") or {}).get("from") == "Selector"
               for g in ev.of_kind("Gateway") for lst in (g.get("spec") or {}).get("listeners") or [])

