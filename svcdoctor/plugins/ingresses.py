"""Ingresses in front of the Service: does each backend reach a Service port, is there a
Service of that name in the Ingress's namespace, does a running controller claim the
Ingress, and what does that controller say about it (events translated through
``ingress_errors.yaml``)."""

from __future__ import annotations

import json
from typing import Any, Iterator

from svcdoctor import hookimpl, kube, similar, tables
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.l7.answers import with_probes
from svcdoctor.l7 import TARGETS, classes, hops
from svcdoctor.l7.refs import BackendRef, ingress_port_matches, port_value, suggested_port
from svcdoctor.wording import cause_facts

NGINX = "ingress-nginx"


def _ingress_refs(ev: Evidence) -> list[BackendRef]:
    return [r for r in ev.l7_refs if r.owner.get("kind") == "Ingress"]


def _ingresses(ev: Evidence) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in _ingress_refs(ev):
        seen.setdefault(r.owner_ref, r.owner)
    if ev.target.kind == "Ingress":
        for o in ev.of_kind("Ingress", ev.target.namespace):
            if kube.name(o) == ev.target.name:
                seen.setdefault(kube.ref(o), o)
    return list(seen.values())


def _controllers(ev: Evidence) -> list[classes.Running]:
    return ev.shared_value("l7.running", lambda: classes.running(ev.of_kind("Pod"), ev.nodes.values()))


def controllers_visible(ev: Evidence) -> bool:
    """Could the evidence show the controllers? Live: the controller pods were listed.
    Offline: the input holds pods beyond the Ingresses' own namespace."""
    if any(g.what.startswith("list Ingress controller pods") for g in ev.gaps):
        return False
    if ev.source.startswith("cluster "):
        return True
    namespaces = {kube.namespace(p) for p in ev.of_kind("Pod")}
    return bool(namespaces - {kube.namespace(i) for i in _ingresses(ev)})


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _where(r: BackendRef) -> str:
    return "the default backend" if r.default else f"host {','.join(r.hosts) or '*'} path {r.path}"


def check_backends(ev: Evidence) -> Iterator[Finding]:
    """ingress-backend-not-found / ingress-backend-port-not-found, computed (ingress-nginx
    logs nothing for a port that matches no Service port: the upstream is just empty)."""
    refs = _ingress_refs(ev)
    running = _controllers(ev) if refs else []
    for r in refs:
        ing = r.owner
        base = {"ingress": kube.name(ing), "ingress_namespace": r.namespace, "backend_service": r.name,
                "where": _where(r), "pointer": r.pointer}
        svc = ev.service_named(r.namespace, r.name)
        if svc is None:
            if hops.exists(ev, r.namespace, r.name) is not False:
                continue  # not listed: the read's gap says so, never "missing"
            here = [kube.name(s) for s in ev.of_kind("Service", r.namespace)]
            closest = similar.clear_winner(similar.rank(r.name, here))
            elsewhere = sorted(kube.namespace(s) for s in ev.of_kind("Service")
                               if kube.name(s) == r.name and kube.namespace(s) != r.namespace)
            facts = {**base, "closest": closest, "elsewhere": elsewhere,
                     "services_there": ", ".join(sorted(here)[:8]) if not closest else None,
                     "elsewhere_first": elsewhere[0] if elsewhere else None}
            if closest:
                facts["patch"] = _json([{"op": "replace", "path": f"{r.pointer}/name", "value": closest}])
            yield Finding("ingress-backend-not-found", Severity.CRITICAL, r.owner_ref, facts,
                          [Ref.field(ing, r.pointer.lstrip("/").replace("/", ".") + ".name", r.name)]
                          + [Ref("field", f"Service {ns}/{r.name}", f"Service {ns}/{r.name} exists (another namespace)")
                             for ns in elsewhere[:3]])
            continue
        claimants = classes.claimants(ing, ev.of_kind("IngressClass"), running)
        nginx_only = bool(claimants) and all(c.controller.name == NGINX for c in claimants)
        if r.port is None:
            continue
        ports = kube.service_ports(svc)
        strict = any(ingress_port_matches(p, r.port, nginx=False) for p in ports)
        lenient = any(ingress_port_matches(p, r.port, nginx=True) for p in ports)
        if strict or (lenient and (nginx_only or not claimants)):
            continue
        meant = suggested_port(svc, r)
        facts = {**base, "backend_port": r.port,
                 "service_ports": ", ".join(kube.port_label(p) for p in ports) or "none",
                 "only_nginx": "yes" if lenient else None,
                 "controller": ", ".join(c.controller.name for c in claimants) or None}
        if meant is not None:
            facts["meant_port"] = kube.port_label(meant)
            facts["patch"] = _json([{"op": "replace", "path": f"{r.pointer}/port", "value": port_value(r, meant)}])
        yield Finding("ingress-backend-port-not-found", Severity.CRITICAL, r.owner_ref, facts,
                      [Ref.field(ing, r.pointer.lstrip("/").replace("/", ".") + ".port", r.port),
                       Ref.field(svc, "spec.ports", ", ".join(kube.port_label(p) for p in ports))])


def check_class(ev: Evidence) -> Iterator[Finding]:
    """ingress-class-unclaimed: no running controller claims the Ingress, by each
    controller's own rule (classes.claimants)."""
    if not ev.was_collected("IngressClass") or not controllers_visible(ev):
        return
    ing_classes = ev.of_kind("IngressClass")
    ingresses = list(_ingresses(ev))
    running = _controllers(ev) if ingresses else []
    for ing in ingresses:
        if classes.claimants(ing, ing_classes, running):
            continue
        claim = classes.claim(ing, ing_classes)
        serving = []  # classes some running controller serves
        for c in ing_classes:
            if classes.claimants({"kind": "Ingress", "spec": {"ingressClassName": kube.name(c)}},
                                 ing_classes, running):
                serving.append(kube.name(c))
        defaults = [kube.name(c) for c in classes.default_classes(ing_classes)]
        wanted_controller = str(((claim.ingress_class or {}).get("spec") or {}).get("controller") or "")
        known = next((c for c in classes.CONTROLLERS if c.controller and c.controller == wanted_controller), None)
        # Suggest a class only where the intent is plain: no class at all (the default, or
        # the only class served), or a name that is clearly a slip of a served one. An
        # Ingress naming another controller's class may be waiting for that controller.
        if not claim.how:
            choice = (defaults[0] if defaults and defaults[0] in serving else
                      serving[0] if len(serving) == 1 else None)
        else:
            choice = similar.clear_winner(similar.rank(claim.class_name, serving))
        facts = {
            "ingress": kube.name(ing), "ingress_namespace": kube.namespace(ing),
            "class_name": claim.class_name or None, "how": claim.how or None,
            "no_class": "yes" if not claim.how else None,
            "class_missing": "yes" if claim.how == "spec.ingressClassName" and claim.ingress_class is None else None,
            "class_controller": wanted_controller or None,
            "controller_name": known.name if known else None,
            "legacy": "yes" if claim.how.startswith("annotation") else None,
            "defaults": ", ".join(defaults) or None,
            "running": ", ".join(f"{r.controller.name} ({r.ready}/{r.total} ready)" for r in running) or None,
            "none_running": "yes" if not running else None,
            "serving": ", ".join(serving) or None,
            "choice": choice,
            "patch": _json({"spec": {"ingressClassName": choice}}) if choice else None,
            "address": "none" if not _address(ing) else ", ".join(_address(ing)),
        }
        refs = [Ref.field(ing, claim.how if claim.how.startswith("spec") else "metadata.annotations",
                          claim.class_name or "(none)")]
        if claim.ingress_class is not None:
            refs.append(Ref.field(claim.ingress_class, "spec.controller", wanted_controller))
        refs.append(Ref.field(ing, "status.loadBalancer.ingress", facts["address"]))
        yield Finding("ingress-class-unclaimed", Severity.CRITICAL, kube.ref(ing), facts, refs)


def _address(ing: dict) -> list[str]:
    return [str(i.get("ip") or i.get("hostname")) for i in
            ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if i.get("ip") or i.get("hostname")]


def causes() -> tuple[dict[str, Any], ...]:
    return tables.bundled("svcdoctor.plugins", "ingress_errors.yaml")


def check_controller_events(ev: Evidence) -> Iterator[Finding]:
    """ingress-controller-rejected: Warning events the controllers post on the Ingress,
    translated where the text is known, quoted with count and age where it is not."""
    for ing in _ingresses(ev):
        events = [e for e in ev.events_for("Ingress", kube.name(ing), kube.namespace(ing))
                  if e.get("type") == "Warning"]
        latest: dict[str, dict] = {}
        for e in events:  # one finding per distinct message, the latest occurrence
            key = kube.event_message(e)
            if key not in latest or kube.seen_after(e, latest[key]):
                latest[key] = e
        for message, e in latest.items():
            entry, groups = tables.search(causes(), message)
            if groups.get("svc") and not groups.get("svc_name"):
                groups["svc_name"] = groups["svc"].rsplit("/", 1)[-1]
            facts = {"ingress": kube.name(ing), "ingress_namespace": kube.namespace(ing),
                     "message": message, "source": kube.event_source(e) or "the controller",
                     "reason": e.get("reason", ""), "span": ev.event_span(e), **groups}
            sev = Severity.CRITICAL if entry is not None else Severity.WARNING
            if entry is not None:
                facts.update(cause_facts(entry, {**facts, "namespace": kube.namespace(ing)}))
                facts["provider"] = entry.get("provider")
                facts["cause_id"] = entry["id"]
            else:
                facts["unknown"] = "yes"
                facts["cause_title"] = e.get("reason") or "an unrecognised warning"
            caused_by = _consequence(ev, entry, groups, ing)
            yield Finding("ingress-controller-rejected", sev, kube.ref(ing), facts, [Ref.event(e, ev)],
                          caused_by=caused_by)


def _consequence(ev: Evidence, entry: dict | None, groups: dict, ing: dict) -> Any:
    """A controller complaint about a Service this diagnosis already found broken is its
    consequence (e.g. GKE cannot find the port because the Service lost it)."""
    if entry is None or ev.target.kind != "Service":
        return None
    if entry.get("finding") in ("ingress-backend-not-found", "ingress-backend-port-not-found"):
        return entry["finding"]
    return None


@hookimpl
def register_checks(register: Any) -> None:
    register(with_probes(check_backends), emits=("ingress-backend-not-found", "ingress-backend-port-not-found"),
             targets=TARGETS)
    register(with_probes(check_class), emits=("ingress-class-unclaimed",), targets=TARGETS)
    register(with_probes(check_controller_events), emits=("ingress-controller-rejected",), targets=TARGETS)
