"""Services that live in DNS: ExternalName targets and headless Services."""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.probes import BACKEND_ROOTS, Probe, ProbeOptions, is_ip


@hookimpl
def register_checks(register) -> None:
    register(external_name, emits=("external-name-is-ip", "external-name-unresolvable"))
    register(headless, emits=("headless-no-ready-addresses",))


def _external_name(ev: Evidence) -> str:
    return str((ev.service.get("spec") or {}).get("externalName") or "")


@hookimpl
def plan_probes(evidence: Evidence, plan, options: ProbeOptions) -> None:
    if evidence.target.kind != "Service":
        return
    name = _external_name(evidence)
    if kube.service_type(evidence.service) == "ExternalName" and name and not is_ip(name):
        plan(Probe("dns", "external-name", name, host=name))


def external_name(ev: Evidence) -> Iterator[Finding]:
    if kube.service_type(ev.service) != "ExternalName":
        return
    name = _external_name(ev)
    ref = Ref.field(ev.service, "spec.externalName", name)
    if is_ip(name):
        # CoreDNS only answers a CNAME for names; an IP literal yields NXDOMAIN.
        yield Finding("external-name-is-ip", Severity.CRITICAL, f"Service {ev.target}",
                      facts={"external_name": name}, evidence=[ref])
        return
    for p in ev.probe_results:
        if p.purpose == "external-name" and p.outcome not in ("open", "not-run"):
            yield Finding("external-name-unresolvable", Severity.CRITICAL, f"Service {ev.target}",
                          facts={"external_name": name, "outcome": p.outcome},
                          evidence=[ref, Ref.probe(p)])


def headless(ev: Evidence) -> Iterator[Finding]:
    if not kube.is_headless(ev.service) or kube.service_type(ev.service) == "ExternalName":
        return
    if (ev.service.get("spec") or {}).get("publishNotReadyAddresses"):
        return
    if not ev.was_collected("EndpointSlice") and not (ev.selector and ev.was_collected("Pod")):
        return
    if ev.ready_endpoint_nodes() or _ready_addresses(ev):
        return
    yield Finding(
        "headless-no-ready-addresses", Severity.CRITICAL, f"Service {ev.target}",
        facts={"fqdn": f"{ev.target.name}.{ev.target.namespace}.svc.cluster.local",
               "selector": kube.format_selector(ev.selector) if ev.selector else ""},
        evidence=[Ref.field(ev.service, "spec.clusterIP", "None")]
        + [Ref("field", f"EndpointSlice {ev.target.namespace}/{kube.name(s)}",
               f"EndpointSlice {kube.name(s)} has no ready endpoint") for s in ev.endpoint_slices[:2]],
        caused_by=BACKEND_ROOTS,
    )


def _ready_addresses(ev: Evidence) -> int:
    """Ready endpoints without a nodeName (manual slices) count too."""
    return sum(1 for s in ev.endpoint_slices for e in s.get("endpoints") or []
               if (e.get("conditions") or {}).get("ready") is not False)
