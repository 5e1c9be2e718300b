"""Policies of other APIs that select the Service's pods (Cilium, Calico, the
AdminNetworkPolicy tiers): read when installed, and reported as could-not-verify, since
svcdoctor evaluates only NetworkPolicy. Never ignored silently.

Reads (``plan_reads``, live only, a Service with selected pods): the API server's group
discovery (``/apis``, one request), then each policy kind whose group is served, in all
namespaces. Selection: svcdoctor.netpol.crds."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.netpol import crds
from svcdoctor.netpol.clients import namespace_obj

MAX_NAMED = 4


@hookimpl
def plan_reads(evidence: Any, read: Callable[..., None]) -> None:
    if evidence.target.kind != "Service" or not evidence.selected_pods:
        return
    if not evidence.was_collected("APIGroup"):
        if not any(g.kind == "APIGroup" for g in evidence.gaps):
            read("APIGroup", "/apis", "list API groups (discovery)")
        return
    groups = evidence.of_kind("APIGroup")
    for api in crds.APIS:
        version = crds.served_version(groups, api)
        if version and not evidence.was_collected(api.label):
            read(api.label, api.path(version), f"list {api.kind}s ({api.group}) in all namespaces")


def not_evaluated(ev: Evidence) -> Iterator[Finding]:
    pods = [p for p in ev.selected_pods if not kube.pod_terminating(p)]
    if not pods:
        return
    pod = pods[0]
    policies = [o for kind in sorted({api.kind for api in crds.APIS}) for o in ev.of_kind(kind)]
    found = crds.selecting(policies, pod, namespace_obj(ev, kube.namespace(pod)))
    for family in dict.fromkeys(s.api.family for s in found):
        mine = [s for s in found if s.api.family == family]
        names = [s.ref + ("" if s.certain else " (its selector may match)") for s in mine]
        shown = names[:MAX_NAMED] + ([f"{len(names) - MAX_NAMED} more"] if len(names) > MAX_NAMED else [])
        shown_text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
        first = mine[0]
        ns = kube.namespace(first.policy)
        check = (f"kubectl get {first.api.plural}.{first.api.group} {kube.name(first.policy)}"
                 + (f" -n {ns}" if ns else "") + " -o yaml") if len(mine) == 1 else \
            "kubectl get " + ",".join(dict.fromkeys(f"{s.api.plural}.{s.api.group}" for s in mine)) + " -A"
        yield Finding("could-not-verify", Severity.INFO, f"Service {ev.target}",
                      {"what": f"what the {crds.WORDS[family]} selecting these pods (e.g. {kube.name(pod)}) allow",
                       "reason": f"{shown_text} {'selects' if len(mine) == 1 else 'select'} them; svcdoctor evaluates "
                                 f"Kubernetes NetworkPolicy only, and {crds.EFFECT[family]}",
                       "remedy": "Read them and check what they admit:", "remedy_command": check,
                       "policies": [s.ref for s in mine]},
                      [Ref("field", s.ref, s.ref) for s in mine[:MAX_NAMED]])


@hookimpl
def register_checks(register: Any) -> None:
    register(not_evaluated, emits=("could-not-verify",))
