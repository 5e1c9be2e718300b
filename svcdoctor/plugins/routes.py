"""Gateway API routes in front of the Service: is each route attached to its Gateway
(computed from listeners, allowedRoutes and hostnames, and read from the route's own
``Accepted`` condition), is that Gateway accepted and programmed, does each backendRef
name an existing Service and one of its ports, and does a ReferenceGrant permit a
backendRef that crosses namespaces (evaluated here, and read from ``ResolvedRefs``)."""

from __future__ import annotations

import json
from typing import Any, Iterator

from svcdoctor import hookimpl, kube, similar
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.l7.answers import with_probes
from svcdoctor.l7 import GATEWAY_GROUP, TARGETS, hops
from svcdoctor.l7 import gateway as gw
from svcdoctor.l7.refs import BackendRef, suggested_port

# Give a controller this long to write a new route's or Gateway's status before its
# silence is a finding.
STATUS_GRACE_S = 60


def _route_refs(ev: Evidence) -> list[BackendRef]:
    return [r for r in ev.l7_refs if r.owner.get("kind") != "Ingress"]


def _routes(ev: Evidence) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in _route_refs(ev):
        seen.setdefault(r.owner_ref, r.owner)
    if ev.target.kind not in ("Service", "Ingress", "URL"):
        for o in ev.of_kind(ev.target.kind, ev.target.namespace):
            if kube.name(o) == ev.target.name:
                seen.setdefault(kube.ref(o), o)
    return list(seen.values())


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _old(ev: Evidence, obj: dict) -> bool:
    made = kube.parse_time(kube.meta(obj).get("creationTimestamp"))
    return made is None or (ev.observed_at - made).total_seconds() >= STATUS_GRACE_S


def _why_detached(ev: Evidence, route: dict, parent: gw.Parent) -> tuple[str, str]:
    """(reason, words) when the objects show the route cannot attach to this parent."""
    g = parent.gateway
    if g is None:
        return "", ""
    lsts = gw.listeners(g, parent.section, parent.port)
    if not lsts:
        what = f"no listener named {parent.section}" if parent.section else f"no listener on port {parent.port}"
        names = ", ".join(str(x.get("name")) for x in gw.listeners(g)) or "none"
        return "NoMatchingParent", f"Gateway {parent.namespace}/{parent.name} has {what} (its listeners: {names})"
    kind, ns = route.get("kind", ""), kube.namespace(route)
    namespaces = {kube.name(n): n for n in ev.of_kind("Namespace")}
    kind_ok = [x for x in lsts if gw.listener_admits_kind(x, kind)]
    if not kind_ok:
        return "NotAllowedByListeners", (f"no listener of Gateway {parent.namespace}/{parent.name} accepts {kind}s "
                                         f"(protocols {', '.join(sorted({str(x.get('protocol')) for x in lsts}))})")
    ns_ok = [x for x in kind_ok if gw.listener_admits_namespace(x, g, ns, namespaces) is not False]
    if not ns_ok:
        rules = "; ".join(f"listener {x.get('name')} admits routes from {gw.allowed_from(x)}" for x in kind_ok)
        return "NotAllowedByListeners", f"the route is in namespace {ns}, and {rules}"
    hosts = [str(h) for h in (route.get("spec") or {}).get("hostnames") or []]
    if not any(gw.hostnames_intersect(str(x.get("hostname") or ""), hosts) for x in ns_ok):
        lh = ", ".join(str(x.get("hostname")) for x in ns_ok if x.get("hostname"))
        return "NoMatchingListenerHostname", f"the route's hostnames {', '.join(hosts)} match no listener hostname ({lh})"
    return "", ""


def check_attachment(ev: Evidence) -> Iterator[Finding]:
    """route-not-accepted: the route's Accepted=False for a parent, a detachment the objects
    show, or a parent no controller ever wrote status for."""
    gateways = ev.of_kind("Gateway")
    for route in _routes(ev):
        rref = kube.ref(route)
        parents = gw.parents(route, gateways)
        if not parents:
            continue
        for parent in parents:
            acc = gw.condition(parent.status, "Accepted")
            reason, words = _why_detached(ev, route, parent)
            facts = {"route": kube.name(route), "route_kind": route.get("kind"),
                     "route_kind_lower": str(route.get("kind", "")).lower(),
                     "route_namespace": kube.namespace(route), "parent": parent.ref,
                     "gateway": parent.name, "gateway_namespace": parent.namespace}
            refs = [Ref.field(route, "spec.parentRefs", f"{parent.namespace}/{parent.name}"
                              + (f" sectionName {parent.section}" if parent.section else ""))]
            if parent.gateway is None and ev.was_collected("Gateway"):
                here = [kube.name(g) for g in gateways if kube.namespace(g) == parent.namespace]
                closest = similar.clear_winner(similar.rank(parent.name, here))
                facts.update(reason="NoMatchingParent", computed=f"Gateway {parent.namespace}/{parent.name} does not exist",
                             closest=closest, missing="yes", gateways_there=", ".join(sorted(here)) or "none",
                             patch=_json([{"op": "replace", "path": f"/spec/parentRefs/{parent.index}/name",
                                           "value": closest}]) if closest else None)
            elif gw.is_false(acc):
                facts.update(reason=acc.get("reason"), message=acc.get("message"), computed=words or None)
                refs.append(Ref("field", rref, f"{rref} status.parents[{parent.ref}]: {gw.describe_condition(acc)}",
                                {"field": "status.parents.conditions", "value": acc}))
            elif words:
                facts.update(reason=reason, computed=words)
            elif (parent.status is None and parent.gateway is not None and _old(ev, route)
                  and gw.is_true(gw.condition(parent.gateway.get("status"), "Programmed"))):
                # (a Gateway nobody programs explains the silence: gateway-not-programmed)
                facts.update(reason="no status", silent="yes",
                             controller=_class_controller(ev, parent.gateway))
            else:
                continue
            facts["present"] = "yes" if parent.gateway is not None else None
            if parent.gateway is not None:
                refs.append(Ref("field", kube.ref(parent.gateway), f"{kube.ref(parent.gateway)} listeners: "
                                + "; ".join(_listener_line(x) for x in gw.listeners(parent.gateway))))
            yield Finding("route-not-accepted", Severity.CRITICAL, f"{rref} → {parent.ref}", facts, refs)


def _listener_line(x: dict) -> str:
    host = f" host {x.get('hostname')}" if x.get("hostname") else ""
    return f"{x.get('name')} {x.get('protocol')}/{x.get('port')}{host} from {gw.allowed_from(x)}"


def _class_controller(ev: Evidence, g: dict) -> str | None:
    cls = gw.gateway_class(g, ev.of_kind("GatewayClass"))
    return str((cls.get("spec") or {}).get("controllerName")) if cls else None


def check_gateways(ev: Evidence) -> Iterator[Finding]:
    """gateway-not-programmed: the Gateway a route attaches to (or its class) is not
    accepted or programmed, or no controller has taken it."""
    seen: set[str] = set()
    gateways = ev.of_kind("Gateway")
    for route in _routes(ev):
        for parent in gw.parents(route, gateways):
            g = parent.gateway
            if g is None or kube.ref(g) in seen:
                continue
            seen.add(kube.ref(g))
            cls_name = str((g.get("spec") or {}).get("gatewayClassName") or "")
            cls = gw.gateway_class(g, ev.of_kind("GatewayClass"))
            facts: dict[str, Any] = {"gateway": kube.name(g), "gateway_namespace": kube.namespace(g),
                                     "class_name": cls_name}
            refs = [Ref.field(g, "spec.gatewayClassName", cls_name)]
            status = g.get("status") or {}
            acc, prog = gw.condition(status, "Accepted"), gw.condition(status, "Programmed")
            cls_acc = gw.condition((cls or {}).get("status"), "Accepted")
            bad_listeners = [f"{x.get('name')}: " + "; ".join(gw.describe_condition(c) for c in x.get("conditions") or []
                                                              if (c.get("type") in ("Accepted", "Programmed", "ResolvedRefs")
                                                                  and c.get("status") == "False")
                                                              or (c.get("type") == "Conflicted" and c.get("status") == "True"))
                             for x in status.get("listeners") or []
                             if any((c.get("type") in ("Accepted", "Programmed", "ResolvedRefs") and c.get("status") == "False")
                                    or (c.get("type") == "Conflicted" and c.get("status") == "True")
                                    for c in x.get("conditions") or [])]
            if cls is None and ev.was_collected("GatewayClass"):
                facts.update(state="its GatewayClass does not exist", class_missing="yes",
                             classes=", ".join(kube.name(c) for c in ev.of_kind("GatewayClass")) or "none")
            elif cls is not None and gw.is_false(cls_acc):
                facts.update(state="its GatewayClass is not accepted", condition=gw.describe_condition(cls_acc),
                             controller=(cls.get("spec") or {}).get("controllerName"))
                refs.append(Ref.field(cls, "status.conditions", gw.describe_condition(cls_acc)))
            elif cls is not None and not gw.is_true(cls_acc) and _old(ev, cls):
                facts.update(state="no controller has accepted its GatewayClass", no_controller="yes",
                             controller=(cls.get("spec") or {}).get("controllerName"))
                refs.append(Ref.field(cls, "status.conditions", gw.describe_condition(cls_acc)))
            elif gw.is_false(acc):
                facts.update(state="it is not accepted", condition=gw.describe_condition(acc))
            elif gw.is_false(prog):
                facts.update(state="it is not programmed", condition=gw.describe_condition(prog))
            elif bad_listeners:
                facts.update(state="some of its listeners are invalid")
            elif not gw.is_true(prog) and _old(ev, g):
                facts.update(state="no controller has programmed it", no_controller="yes",
                             condition=gw.describe_condition(prog),
                             controller=(cls.get("spec") or {}).get("controllerName") if cls else None)
            else:
                continue
            facts["listeners"] = "; ".join(bad_listeners) or None
            facts["addresses"] = ", ".join(gw.addresses(g)) or "none"
            refs.append(Ref("field", kube.ref(g), f"{kube.ref(g)} {gw.describe_condition(acc)}; "
                            f"{gw.describe_condition(prog)}; addresses {facts['addresses']}"))
            yield Finding("gateway-not-programmed", Severity.CRITICAL, kube.ref(g), facts, refs)


def check_backends(ev: Evidence) -> Iterator[Finding]:
    """route-backend-not-found, route-ref-not-permitted, route-backend-port-not-found."""
    grants = ev.of_kind("ReferenceGrant")
    for r in _route_refs(ev):
        if r.kind != "Service" or r.group not in ("", "core"):
            continue
        route = r.owner
        base = {"route": kube.name(route), "route_kind": route.get("kind"),
                "route_kind_lower": str(route.get("kind", "")).lower(),
                "route_namespace": kube.namespace(route), "backend_namespace": r.namespace,
                "backend_service": r.name, "pointer": r.pointer, "where": r.path or "all traffic"}
        resolved = [gw.condition(s, "ResolvedRefs") for s in (route.get("status") or {}).get("parents") or []]
        said = [c for c in resolved if gw.is_false(c)]
        if gw.needs_grant(r):
            permitted = any(gw.grant_permits(g, r) for g in grants)
            said_denied = [c for c in said if c.get("reason") == "RefNotPermitted"]
            if (ev.was_collected("ReferenceGrant") and not permitted) or said_denied:
                yield _not_permitted(ev, r, base, grants, said_denied)
                continue
        svc = ev.service_named(r.namespace, r.name)
        said_missing = [c for c in said if c.get("reason") == "BackendNotFound" and r.name in str(c.get("message", ""))]
        if svc is None:
            if hops.exists(ev, r.namespace, r.name) is False or said_missing:
                here = [kube.name(s) for s in ev.of_kind("Service", r.namespace)]
                closest = similar.clear_winner(similar.rank(r.name, here))
                facts = {**base, "closest": closest,
                         "services_there": ", ".join(sorted(here)[:8]) if here and not closest else None,
                         "condition": gw.describe_condition(said_missing[0]) if said_missing else None,
                         "patch": _json([{"op": "replace", "path": f"{r.pointer}/name", "value": closest}]) if closest else None}
                yield Finding("route-backend-not-found", Severity.CRITICAL, r.owner_ref, facts,
                              [Ref.field(route, r.pointer.lstrip("/").replace("/", ".") + ".name", r.name)])
            continue
        if r.port is not None and any(p.get("port") == r.port for p in kube.service_ports(svc)):
            continue
        ports = kube.service_ports(svc)
        meant = suggested_port(svc, r)
        facts = {**base, "backend_port": r.port if r.port is not None else None, "missing": "yes" if r.port is None else None,
                 "service_ports": ", ".join(kube.port_label(p) for p in ports) or "none",
                 "meant_port": kube.port_label(meant) if meant else None,
                 "patch": _json([{"op": "add" if r.port is None else "replace", "path": f"{r.pointer}/port",
                                  "value": meant.get("port")}]) if meant else None}
        yield Finding("route-backend-port-not-found", Severity.CRITICAL, r.owner_ref, facts,
                      [Ref.field(route, r.pointer.lstrip("/").replace("/", ".") + ".port",
                                 r.port if r.port is not None else "(not set)"),
                       Ref.field(svc, "spec.ports", ", ".join(kube.port_label(p) for p in ports))])


def _not_permitted(ev: Evidence, r: BackendRef, base: dict, grants: list[dict], said: list[dict]) -> Finding:
    route = r.owner
    there = [g for g in grants if kube.namespace(g) == r.namespace]
    # The grant to change: one whose "to" already admits this Service (only "from" is wrong).
    nearest = next((g for g in there if not any(s.startswith("its to") for s in gw.grant_gaps(g, r))), None)
    entry = {"group": GATEWAY_GROUP, "kind": route.get("kind"), "namespace": kube.namespace(route)}
    facts = {**base,
             "grants_there": ", ".join(kube.name(g) for g in there) or None,
             "no_grants": "yes" if ev.was_collected("ReferenceGrant") and not there else None,
             "grant": kube.name(nearest) if nearest else None,
             "grant_gaps": "; ".join(gw.grant_gaps(nearest, r)) if nearest else None,
             "condition": gw.describe_condition(said[0]) if said else None,
             "grant_patch": _json([{"op": "add", "path": "/spec/from/-", "value": entry}]) if nearest else None,
             "new_grant": None if nearest else _json({
                 "apiVersion": f"{GATEWAY_GROUP}/v1beta1", "kind": "ReferenceGrant",
                 "metadata": {"name": f"allow-{kube.namespace(route)}-{str(route.get('kind', '')).lower()}s",
                              "namespace": r.namespace},
                 "spec": {"from": [entry], "to": [{"group": "", "kind": "Service", "name": r.name}]}})}
    refs = [Ref.field(route, r.pointer.lstrip("/").replace("/", ".") + ".namespace", r.namespace)]
    if nearest is not None:
        refs.append(Ref.field(nearest, "spec.from", [f"{f.get('kind')}@{f.get('namespace')}"
                                                      for f in (nearest.get("spec") or {}).get("from") or []]))
    return Finding("route-ref-not-permitted", Severity.CRITICAL, r.owner_ref, facts, refs)


@hookimpl
def register_checks(register: Any) -> None:
    register(with_probes(check_attachment), emits=("route-not-accepted",), targets=TARGETS)
    register(with_probes(check_gateways), emits=("gateway-not-programmed",), targets=TARGETS)
    register(with_probes(check_backends), emits=("route-backend-not-found", "route-ref-not-permitted",
                                     "route-backend-port-not-found"), targets=TARGETS)
