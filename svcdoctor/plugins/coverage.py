"""Say what could not be checked because the source never collected it.

Other checks stay silent when their inputs are missing (they must not report a pod as
absent when pods were never listed); this check makes that silence visible."""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity

# kind → what svcdoctor could not check without it
NEEDS = {
    "Pod": "which pods the selector matches, their readiness and declared ports",
    "EndpointSlice": "the endpoints the control plane actually published",
    "Node": "whether endpoints sit on NotReady nodes",
    "Event": "readiness-probe failures and controller events",
}


@hookimpl
def register_checks(register) -> None:
    register(uncollected_kinds, emits=("could-not-verify",))
    register(unprobed, emits=("could-not-verify",))


def unprobed(ev: Evidence) -> Iterator[Finding]:
    """Reachability that only a probe can establish, when no probe ran."""
    if not ev.probe_note or ev.probe_results:
        return
    spec = ev.service.get("spec") or {}
    kind = kube.service_type(ev.service)
    what = []
    if kind in ("NodePort", "LoadBalancer") and any(p.get("nodePort") for p in kube.service_ports(ev.service)):
        what.append("whether the NodePorts answer on the nodes")
    if spec.get("healthCheckNodePort"):
        what.append("the externalTrafficPolicy: Local health checks")
    if ((ev.service.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        what.append("whether the load balancer address resolves and answers")
    if kind == "ExternalName":
        what.append("whether the ExternalName resolves")
    if what:
        yield Finding("could-not-verify", Severity.INFO, "network reachability",
                      facts={"what": ", ".join(what), "reason": ev.probe_note},
                      evidence=[Ref("gap", "network probes", ev.probe_note)])


def uncollected_kinds(ev: Evidence) -> Iterator[Finding]:
    if kube.service_type(ev.service) == "ExternalName":
        return
    gap_kinds = {g.kind for g in ev.gaps}
    for kind, what in NEEDS.items():
        if kind in ev.collected or kind in gap_kinds:
            continue
        if kind == "Pod" and not ev.selector:
            continue
        if kind == "EndpointSlice" and "Endpoints" in ev.collected:
            continue
        yield Finding("could-not-verify", Severity.INFO, f"{kind} objects",
                      facts={"what": what, "reason": f"the input holds no {kind} objects"},
                      evidence=[Ref("gap", ev.source, f"no {kind} in {ev.source}")])
