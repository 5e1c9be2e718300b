"""Which pods back the Service: selector, readiness, terminating pods, node health."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.kube import Obj

CRIT, WARN = Severity.CRITICAL, Severity.WARNING


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
        homes = Counter(kube.namespace(p) for p in elsewhere)
        home = homes.most_common(1)[0][0]
        in_home = [p for p in elsewhere if kube.namespace(p) == home]
        yield Finding(
            "selector-pods-in-other-namespace", CRIT, _svc_ref(ev),
            facts={**facts, "pod_namespace": home, "other_namespaces": sorted(homes),
                   "pods": _pod_list(in_home),
                   "workloads": sorted({kube.workload(p) for p in in_home})},
            evidence=refs + [Ref("field", kube.ref(p), f"{kube.ref(p)} has labels "
                                 f"{kube.format_selector(kube.labels(p))}") for p in in_home[:3]],
        )
        cause = "selector-pods-in-other-namespace"
    failing, near = _near_misses(sel, ev.namespace_pods)
    suggestion = _suggest_selector(sel, near)
    yield Finding(
        "selector-matches-no-pods", CRIT, _svc_ref(ev),
        facts={**facts, "pods_in_namespace": len(ev.namespace_pods),
               "failing_pairs": failing, "near_misses": [n["text"] for n in near[:5]],
               "suggested_selector": kube.format_selector(suggestion) if suggestion else "",
               "suggested_patch": _selector_patch(sel, suggestion) if suggestion else ""},
        evidence=refs + [Ref("field", n["ref"], n["text"]) for n in near[:3]],
        caused_by=cause,
    )


def _pod_list(pods: list[Obj], limit: int = 5) -> str:
    names = [kube.name(p) for p in pods[:limit]]
    more = f" and {len(pods) - limit} more" if len(pods) > limit else ""
    return ", ".join(names) + more


def _near_misses(sel: dict[str, str], pods: list[Obj]) -> tuple[list[str], list[dict]]:
    """Which selector pairs no pod satisfies, and the pods closest to matching.

    Pods are grouped by workload so ten replicas read as one near miss."""
    live = [p for p in pods if not kube.pod_finished(p)]
    failing = [f"{k}={v}" for k, v in sorted(sel.items())
               if not any(kube.labels(p).get(k) == v for p in live)]
    groups: dict[str, list[Obj]] = {}
    for p in live:
        groups.setdefault(kube.workload(p), []).append(p)
    near = []
    for wl, members in groups.items():
        lbl = kube.labels(members[0])
        matched = [k for k, v in sel.items() if lbl.get(k) == v]
        diffs = []
        for k, v in sorted(sel.items()):
            if lbl.get(k) == v:
                continue
            if k in lbl:
                diffs.append((k, v, f"has {k}={lbl[k]} instead of {k}={v}", {k: lbl[k]}))
            else:
                same_value = [lk for lk, lv in lbl.items() if lv == v and lk not in sel]
                if same_value:
                    diffs.append((k, v, f"has {same_value[0]}={v} instead of {k}={v}", {same_value[0]: v}))
                else:
                    diffs.append((k, v, f"has no {k} label", None))
        if not matched and not any(d[3] for d in diffs):
            continue  # nothing in common: not a near miss
        count = f" ({len(members)} pods)" if len(members) > 1 else ""
        near.append({
            "ref": kube.ref(members[0]),
            "score": (len(matched), sum(1 for d in diffs if d[3]), len(members)),
            "text": f"{wl}{count}: pod {kube.name(members[0])} " + "; ".join(d[2] for d in diffs),
            "fix": {k: v for d in diffs if d[3] for k, v in d[3].items()},
            "drop": [d[0] for d in diffs],
            "labels": lbl,
        })
    near.sort(key=lambda n: n["score"], reverse=True)
    return failing, near


def _suggest_selector(sel: dict[str, str], near: list[dict]) -> dict[str, str] | None:
    """The selector that would match the closest near miss, if every pair has a fix."""
    if not near:
        return None
    best = near[0]
    new = {k: v for k, v in sel.items() if k not in best["drop"]}
    new.update(best["fix"])
    if not new or not kube.selector_matches(new, best["labels"]):
        return None
    return new


def _selector_patch(old: dict[str, str], new: dict[str, str]) -> str:
    # A merge patch only adds/changes keys; removed keys must be set to null.
    patch = {k: new.get(k) for k in sorted(set(old) | set(new))}
    return json.dumps({"spec": {"selector": patch}}, separators=(",", ":"))


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
    mislinked = [f"EndpointSlice {kube.name(s)} (label kubernetes.io/service-name="
                 f"{kube.labels(s).get('kubernetes.io/service-name', '<none>')})"
                 for s in ev.of_kind("EndpointSlice", ns)
                 if s not in ev.endpoint_slices and _similar(ev.target.name, s)]
    mislinked += [f"Endpoints {kube.name(e)}" for e in ev.of_kind("Endpoints", ns)
                  if kube.name(e) != ev.target.name and _similar(ev.target.name, e)]
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


def _similar(svc_name: str, obj: Obj) -> bool:
    nm = kube.labels(obj).get("kubernetes.io/service-name") or kube.name(obj)
    if kube.labels(obj).get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io":
        return False  # controller-made slices belong to selector Services
    return svc_name in nm or difflib.SequenceMatcher(None, svc_name, nm).ratio() >= 0.75


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
    cause = "endpoints-on-notready-node" if unready and all(
        _node_not_ready(ev, p) for p in unready) else None
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
    pods = [p for p in ev.selected_pods if not kube.pod_terminating(p)]
    groups: dict[str, list[Obj]] = {}
    for p in pods:
        groups.setdefault(kube.workload(p), []).append(p)
    if len(groups) < 2:
        return
    # The main workload: the biggest, preferring one named like the Service.
    main = max(groups, key=lambda w: (len(groups[w]), w.split(" ", 1)[1] == ev.target.name))
    others = [w for w in groups if w != main]
    main_labels = kube.labels(groups[main][0])
    distinct = {k: v for k, v in sorted(main_labels.items())
                if k not in ev.selector and k != "pod-template-hash"
                and all(kube.labels(p).get(k) == v for p in groups[main])
                and all(kube.labels(p).get(k) != v for w in others for p in groups[w])}
    label = next(iter(distinct.items()), None)
    images = {w: sorted({c.get("image", "") for p in g for c in (p.get("spec") or {}).get("containers") or []})
              for w, g in groups.items()}
    yield Finding(
        "selector-too-broad", WARN, _svc_ref(ev),
        facts={"selector": kube.format_selector(ev.selector),
               "workloads": [f"{w} ({len(g)} pod{'s' if len(g) > 1 else ''}, "
                             f"{', '.join(images[w])})" for w, g in sorted(groups.items())],
               "main_workload": main, "other_workloads": others,
               "distinguishing_label": f"{label[0]}={label[1]}" if label else "",
               "suggested_patch": (_selector_patch(ev.selector, {**ev.selector, label[0]: label[1]})
                                   if label else "")},
        evidence=[Ref.field(ev.service, "spec.selector", ev.selector)]
        + [Ref("field", kube.ref(g[0]), f"{kube.ref(g[0])} belongs to {w}") for w, g in sorted(groups.items())],
    )
