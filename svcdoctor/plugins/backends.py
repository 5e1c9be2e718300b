"""Which pods back the Service: selector, readiness, terminating pods, node health."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from svcdoctor import hookimpl, kube, similar
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.kube import Obj
from svcdoctor.plugins.near_misses import by_workload, choose, near_misses, selector_patch, selects, short

CRIT, WARN = Severity.CRITICAL, Severity.WARNING
POD_ROOTS = ("host-port-conflict", "backend-pods-crashlooping", "backend-pods-pending",
             "readiness-gate-unsatisfied")


@hookimpl
def register_checks(register) -> None:
    register(selector, emits=("selector-matches-no-pods", "selector-pods-in-other-namespace"))
    register(manual_endpoints, emits=("no-selector-no-endpoints",))
    register(readiness, emits=("no-ready-endpoints", "some-endpoints-not-ready",
                                "endpoints-only-terminating"))
    register(node_health, emits=("endpoints-on-notready-node",))
    register(workloads, emits=("selector-too-broad",))


def _proxied(ev: Evidence) -> bool:
    return kube.service_type(ev.service) != "ExternalName"


def _svc_ref(ev: Evidence) -> str:
    return f"Service {ev.target}"


# --- selector ---------------------------------------------------------------------------

def selector(ev: Evidence) -> Iterator[Finding]:
    sel = ev.selector
    if not sel or not _proxied(ev) or not ev.was_collected("Pod") or ev.selected_pods:
        return
    facts = {"selector": kube.format_selector(sel)}
    refs = [Ref.field(ev.service, "spec.selector", sel)]
    elsewhere = ev.other_namespace_pods
    cause = None
    if elsewhere:
        yield _other_namespace(ev, facts, refs, elsewhere)
        cause = "selector-pods-in-other-namespace"
    live = [p for p in ev.namespace_pods if not kube.pod_finished(p)]
    failing = [f"{k}={v}" for k, v in sorted(sel.items())
               if not any(kube.labels(p).get(k) == v for p in live)]
    near = near_misses(sel, live, ev.target.name)
    choice = choose(sel, near, ev.namespace_pods, ev.target.name, elsewhere=bool(elsewhere))
    # the close ones; failing those, the ones that at least share a pair (tier=web)
    listed = [n for n in near if n.score >= similar.WEAK][:5] or [n for n in near if n.matched][:3]
    yield Finding(
        "selector-matches-no-pods", CRIT, _svc_ref(ev),
        facts={**facts, "pods_in_namespace": len(ev.namespace_pods),
               "failing_pairs": failing, "near_misses": [n.text for n in listed],
               "nothing_close": "yes" if live and not listed else "",
               **choice.facts(sel)},
        evidence=refs + [Ref("field", n.ref, n.text) for n in listed[:3]],
        caused_by=cause,
    )


def _pod_list(pods: list[Obj], limit: int = 5) -> str:
    names = [kube.name(p) for p in pods[:limit]]
    more = f" and {len(pods) - limit} more" if len(pods) > limit else ""
    return ", ".join(names) + more


def _other_namespace(ev: Evidence, facts: dict, refs: list[Ref], elsewhere: list[Obj]) -> Finding:
    """Pods with exactly these labels run elsewhere. With several namespaces, the one to
    move the Service to is the one whose workload the Service's name clearly points at."""
    by_ns: dict[str, list[Obj]] = {}
    for p in elsewhere:
        by_ns.setdefault(kube.namespace(p), []).append(p)
    single = len(by_ns) == 1
    home = next(iter(by_ns)) if single else _home(ev.target.name, by_ns)
    shown = by_ns.get(home) or elsewhere
    places = [f"{ns} ({', '.join(sorted(by_workload(ps)))}; {len(ps)} pod{'s' if len(ps) > 1 else ''})"
              for ns, ps in sorted(by_ns.items())]
    return Finding(
        "selector-pods-in-other-namespace", CRIT, _svc_ref(ev),
        facts={**facts, "pod_namespace": home, "other_namespaces": sorted(by_ns),
               "found_in": f"namespace {home}" if single else f"namespaces {', '.join(sorted(by_ns))}",
               "pods": _pod_list(shown) if single else "",
               "workloads": sorted(by_workload(shown)) if single else [],
               "several_namespaces": [] if single else places,
               "home_workloads": sorted(by_workload(shown)) if home and not single else [],
               "home_unclear": "yes" if not home else ""},
        evidence=refs + [Ref("field", kube.ref(p), f"{kube.ref(p)} has labels "
                             f"{kube.format_selector(kube.labels(p))}") for p in shown[:3]],
    )


def _home(svc_name: str, by_ns: dict[str, list[Obj]]) -> str:
    """The namespace holding the workload the Service's name clearly points at, or ""."""
    workloads = [(ns, wl) for ns, ps in by_ns.items() for wl in by_workload(ps)]
    best = similar.clear_winner(similar.rank(svc_name, workloads, key=lambda w: short(w[1])))
    return best[0] if best else ""


# --- selector-less Services ---------------------------------------------------------------

def manual_endpoints(ev: Evidence) -> Iterator[Finding]:
    if ev.selector or not _proxied(ev):
        return
    if not ev.was_collected("EndpointSlice") and not ev.was_collected("Endpoints"):
        return
    svc_ports = {p.get("name") or "" for p in kube.service_ports(ev.service)}
    ready_by_port: Counter[str] = Counter()
    for s in ev.endpoint_slices:
        ready = sum(1 for e in s.get("endpoints") or []
                    if (e.get("conditions") or {}).get("ready") is not False)
        for p in s.get("ports") or []:
            ready_by_port[p.get("name") or ""] += ready
    if ev.endpoints:
        for subset in ev.endpoints.get("subsets") or []:
            for p in subset.get("ports") or []:
                ready_by_port[p.get("name") or ""] += len(subset.get("addresses") or [])
    if all(ready_by_port[n] for n in svc_ports):
        return
    # Objects that look meant for this Service but are not linked to it.
    ns = ev.target.namespace
    services = {kube.name(s) for s in ev.of_kind("Service", ns)} - {ev.target.name}
    mislinked = [f"EndpointSlice {kube.name(s)} (label kubernetes.io/service-name="
                 f"{kube.labels(s).get('kubernetes.io/service-name', '<none>')})"
                 for s in ev.of_kind("EndpointSlice", ns)
                 if s not in ev.endpoint_slices and _similar(ev.target.name, s, services)]
    mislinked += [f"Endpoints {kube.name(e)}" for e in ev.of_kind("Endpoints", ns)
                  if kube.name(e) != ev.target.name and _similar(ev.target.name, e, services)]
    unmatched = sorted(n for n in ready_by_port if ready_by_port[n] and n not in svc_ports)
    missing = sorted(n or "<unnamed>" for n in svc_ports if not ready_by_port[n])
    yield Finding(
        "no-selector-no-endpoints", CRIT, _svc_ref(ev),
        facts={"ports_without_endpoints": missing, "mislinked": mislinked,
               "endpoint_port_names": unmatched,
               "linked_slices": [kube.name(s) for s in ev.endpoint_slices]},
        evidence=[Ref.field(ev.service, "spec.selector", None)]
        + [Ref("field", kube.ref(s), f"{kube.ref(s)} ports "
               f"{[p.get('name') for p in s.get('ports') or []]}") for s in ev.endpoint_slices[:3]],
    )


def _similar(svc_name: str, obj: Obj, services: set[str]) -> bool:
    """An EndpointSlice or Endpoints object whose name or service-name label is close to
    the Service's (legacy-db-1, legacy-dbb), and that no other Service here owns."""
    label = kube.labels(obj).get("kubernetes.io/service-name") or ""
    if kube.labels(obj).get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io":
        return False  # controller-made slices belong to selector Services
    if (label or kube.name(obj)) in services:
        return False  # linked to another Service that exists: not meant for this one
    return max(similar.closeness(svc_name, label), similar.closeness(svc_name, kube.name(obj))) >= similar.STRONG


# --- readiness --------------------------------------------------------------------------------

def _why_not_ready(ev: Evidence, pods: list[Obj]) -> tuple[dict, list[Ref]]:
    """The latest readiness-probe failure among these pods (else the latest warning event)."""
    events = [e for p in pods for e in ev.events_for("Pod", kube.name(p))]
    probe = [e for e in events if e.get("reason") == "Unhealthy" and "Readiness" in kube.event_message(e)]
    warn = [e for e in events if e.get("type") == "Warning"]
    best = kube.latest(probe) or kube.latest(warn)
    facts: dict = {"waiting": sorted({w for p in pods for w in kube.waiting_reasons(p)})}
    refs: list[Ref] = []
    if best is not None:
        refs.append(Ref.event(best, ev))
        first, last = kube.event_first_seen(best), kube.event_last_seen(best)
        facts.update({
            "last_failure_pod": kube.event_involved(best).get("name"),
            "last_failure_count": kube.event_count(best),
            "last_failure_span": ev.age(first) if first else "",
            "last_failure_age": ev.age(last),
            "last_failure_when": ev.event_span(best),
        })
        # Exactly one of these: the playbook words a probe failure and any other warning differently.
        if best in probe:
            facts["probe_failure"] = kube.event_message(best)
        else:
            facts.update({"warning": kube.event_message(best), "warning_reason": best.get("reason")})
    if not ev.was_collected("Event"):
        facts["events_not_collected"] = "yes"
    return facts, refs


def readiness(ev: Evidence) -> Iterator[Finding]:
    if not ev.selector or not _proxied(ev) or not ev.selected_pods:
        return
    if (ev.service.get("spec") or {}).get("publishNotReadyAddresses"):
        return  # unready pods receive traffic by request; readiness says nothing here
    pods = ev.selected_pods
    live = [p for p in pods if not kube.pod_terminating(p)]
    terminating = [p for p in pods if kube.pod_terminating(p)]
    ready = [p for p in live if kube.pod_ready(p)]
    unready = [p for p in live if not kube.pod_ready(p)]
    base = {"selector": kube.format_selector(ev.selector), "selected": len(pods),
            "ready": len(ready), "terminating": len(terminating) or ""}
    # Why they are not Ready, when a check of pod_health found it: the report keeps the
    # first of these that fired as the root cause.
    cause = (("endpoints-on-notready-node",) if unready and all(_node_not_ready(ev, p) for p in unready)
             else ()) + POD_ROOTS
    if not live:
        serving = [p for p in terminating if kube.pod_ready(p)]
        grace = sorted({(p.get("spec") or {}).get("terminationGracePeriodSeconds", 30) for p in terminating})
        yield Finding(
            "endpoints-only-terminating", WARN if serving else CRIT, _svc_ref(ev),
            facts={**base, "pods": _pod_list(terminating), "serving": len(serving),
                   "grace_seconds": grace,
                   "deleted_at": sorted({kube.meta(p).get("deletionTimestamp") for p in terminating})},
            evidence=[Ref("field", kube.ref(p), f"{kube.ref(p)} metadata.deletionTimestamp = "
                          f"{kube.meta(p).get('deletionTimestamp')}") for p in terminating[:3]],
        )
        return
    if not unready:
        return
    why, refs = _why_not_ready(ev, unready)
    pod_refs = [Ref("field", kube.ref(p), f"{kube.ref(p)} status.conditions[Ready] = "
                    f"{(kube.condition(p, 'Ready') or {}).get('status', 'missing')}"
                    + (f" ({(kube.condition(p, 'Ready') or {}).get('reason')})"
                       if (kube.condition(p, 'Ready') or {}).get('reason') else ""))
                for p in unready[:3]]
    facts = {**base, **why, "unready": len(unready), "unready_pods": _pod_list(unready),
             "workload": sorted({kube.workload(p) for p in unready})}
    if not ready:
        yield Finding("no-ready-endpoints", CRIT, _svc_ref(ev), facts=facts,
                      evidence=pod_refs + refs, caused_by=cause)
    else:
        yield Finding("some-endpoints-not-ready", WARN, _svc_ref(ev), facts=facts,
                      evidence=pod_refs + refs, caused_by=cause)


# --- nodes ---------------------------------------------------------------------------------------

def _node_not_ready(ev: Evidence, pod: Obj) -> bool:
    node = ev.nodes.get(kube.pod_node(pod))
    return node is not None and kube.node_ready_status(node) != "True"


def node_health(ev: Evidence) -> Iterator[Finding]:
    if not _proxied(ev) or not ev.was_collected("Node"):
        return
    # Backends by node: pods if we have them, else what the EndpointSlices say.
    on_node: dict[str, list[str]] = {}
    if ev.selector and ev.was_collected("Pod"):
        for p in ev.selected_pods:
            on_node.setdefault(kube.pod_node(p), []).append(kube.name(p))
    else:
        for s in ev.endpoint_slices:
            for e in s.get("endpoints") or []:
                target = (e.get("targetRef") or {}).get("name") or ",".join(e.get("addresses") or [])
                on_node.setdefault(e.get("nodeName") or "", []).append(target)
    total = sum(len(v) for v in on_node.values())
    bad = {n: pods for n, pods in on_node.items()
           if n in ev.nodes and kube.node_ready_status(ev.nodes[n]) != "True"}
    if not bad:
        return
    refs = []
    for n in sorted(bad):
        cond = kube.condition(ev.nodes[n], "Ready") or {}
        refs.append(Ref("field", f"Node {n}", f"Node {n} status.conditions[Ready] = "
                        f"{cond.get('status', 'missing')} ({cond.get('reason', '')}: "
                        f"{cond.get('message', '')})".replace(" (: )", "")))
        node_events = [e for e in ev.events_for("Node", n, namespace="")
                       + ev.events_for("Node", n, namespace="default")
                       if e.get("reason") in ("NodeNotReady", "NodeStatusUnknown")]
        if node_events:
            refs.append(Ref.event(kube.latest(node_events), ev))
    affected = sum(len(v) for v in bad.values())
    cond = kube.condition(ev.nodes[sorted(bad)[0]], "Ready") or {}
    yield Finding(
        "endpoints-on-notready-node", CRIT if affected == total else WARN, _svc_ref(ev),
        facts={"nodes": sorted(bad), "node": sorted(bad)[0],
               "ready_status": cond.get("status", "Unknown"), "node_reason": cond.get("reason", ""),
               "affected": affected, "total": total,
               "pods": [p for n in sorted(bad) for p in bad[n]][:10],
               "pod_args": " ".join([p for n in sorted(bad) for p in bad[n]][:10])},
        evidence=refs,
    )


# --- workloads -----------------------------------------------------------------------------------

def workloads(ev: Evidence) -> Iterator[Finding]:
    if not ev.selector or not _proxied(ev):
        return
    groups = by_workload([p for p in ev.selected_pods if not kube.pod_terminating(p)])
    if len(groups) < 2:
        return
    main = _main_workload(ev.target.name, groups)
    others = [w for w in groups if w != main]
    label = _distinguishing_label(ev, groups, main) if main else None
    images = {w: sorted({c.get("image", "") for p in g for c in (p.get("spec") or {}).get("containers") or []})
              for w, g in groups.items()}
    yield Finding(
        "selector-too-broad", WARN, _svc_ref(ev),
        facts={"selector": kube.format_selector(ev.selector),
               "workloads": [f"{w} ({len(g)} pod{'s' if len(g) > 1 else ''}, "
                             f"{', '.join(images[w])})" for w, g in sorted(groups.items())],
               "main_workload": main, "other_workloads": others,
               "main_unclear": "" if main else "yes",
               "distinguishing_label": f"{label[0]}={label[1]}" if label else "",
               "suggested_patch": (selector_patch(ev.selector, {**ev.selector, label[0]: label[1]})
                                   if label else "")},
        evidence=[Ref.field(ev.service, "spec.selector", ev.selector)]
        + [Ref("field", kube.ref(g[0]), f"{kube.ref(g[0])} belongs to {w}") for w, g in sorted(groups.items())],
    )


def _main_workload(svc_name: str, groups: dict[str, list[Obj]]) -> str:
    """The workload the Service is meant for: the one its name clearly points at (checkout,
    not checkout-worker), else the strictly biggest (stable, not its canary), else ""."""
    named = similar.clear_winner(similar.rank(svc_name, groups, key=short))
    if named:
        return named
    sizes = sorted((len(g) for g in groups.values()), reverse=True)
    if sizes[0] == sizes[1]:
        return ""
    return max(groups, key=lambda w: len(groups[w]))


def _distinguishing_label(ev: Evidence, groups: dict[str, list[Obj]], main: str) -> tuple[str, str] | None:
    """A label all of main's pods carry and no other pod the narrowed selector would
    select (checked against every pod in the namespace)."""
    for k, v in sorted(kube.labels(groups[main][0]).items()):
        if k in ev.selector or k == "pod-template-hash":
            continue
        if not all(kube.labels(p).get(k) == v for p in groups[main]):
            continue
        if selects({**ev.selector, k: v}, ev.namespace_pods) == {main}:
            return k, v
    return None
