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
