"""A provisioned load balancer, from the outside: does its address resolve, does its port
answer, and may the probing client pass loadBalancerSourceRanges at all?"""

from __future__ import annotations

import ipaddress
from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.probes import BACKEND_ROOTS, FAILED_TCP, Probe, ProbeOptions

RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


@hookimpl
def register_checks(register) -> None:
    register(lb_address, emits=("lb-address-unresolvable", "lb-unreachable",
                                "lb-source-ranges-exclude-client"))


def _ingress(ev: Evidence) -> list[dict]:
    return ((ev.service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


@hookimpl
def plan_probes(evidence: Evidence, plan, options: ProbeOptions) -> None:
    if evidence.target.kind != "Service":
        return
    if kube.service_type(evidence.service) != "LoadBalancer":
        return
    for ing in _ingress(evidence):
        host = ing.get("ip") or ing.get("hostname")
        if not host:
            continue
        if ing.get("hostname") and not ing.get("ip"):
            plan(Probe("dns", "lb", host, host=host))
        ports = ing.get("ports") or kube.service_ports(evidence.service)
        for port in ports:
            if (port.get("protocol") or "TCP") != "TCP":
                continue
            plan(Probe("tcp", "lb", f"{host}:{port['port']}", host=host, port=int(port["port"]),
                       service_port=str(port.get("name") or port["port"])))


def source_ranges(ev: Evidence) -> list[str]:
    spec = ev.service.get("spec") or {}
    ranges = list(spec.get("loadBalancerSourceRanges") or [])
    if not ranges:  # the legacy annotation is honoured only when the field is empty
        ann = (kube.meta(ev.service).get("annotations") or {}).get(RANGES_ANNOTATION, "")
        ranges = [r.strip() for r in ann.split(",") if r.strip()]
    return ranges


def _admitted(source: str, ranges: list[str]) -> bool | None:
    try:
        addr = ipaddress.ip_address(source)
        return any(addr in ipaddress.ip_network(r, strict=False) for r in ranges)
    except ValueError:
        return None  # unparseable: say nothing rather than guess


def lb_address(ev: Evidence) -> Iterator[Finding]:
    if kube.service_type(ev.service) != "LoadBalancer":
        return
    probes = [p for p in ev.probe_results if p.purpose == "lb" and p.outcome != "not-run"]
    if not probes:
        return
    unresolved = {p.target for p in probes if p.kind == "dns" and p.outcome != "open"}
    for p in probes:
        if p.kind == "dns" and p.outcome != "open":
            yield Finding("lb-address-unresolvable", Severity.CRITICAL, f"Service {ev.target} load balancer",
                          facts={"hostname": p.target, "outcome": p.outcome},
                          evidence=[Ref.field(ev.service, "status.loadBalancer.ingress[].hostname", p.target),
                                    Ref.probe(p)])
    tcp = [p for p in probes if p.kind == "tcp" and p.host not in unresolved]
    failed = [p for p in tcp if p.outcome in FAILED_TCP]
    ranges = source_ranges(ev)
    sources = sorted({p.source for p in tcp if p.source})
    excluded = [s for s in sources if ranges and _admitted(s, ranges) is False]
    if excluded:
        yield Finding(
            "lb-source-ranges-exclude-client",
            Severity.CRITICAL if failed else Severity.WARNING, f"Service {ev.target} load balancer",
            facts={"client": excluded[0], "ranges": ranges, "probe_failed": "yes" if failed else ""},
            evidence=[Ref.field(ev.service, "spec.loadBalancerSourceRanges", ranges)]
            + [Ref.probe(p) for p in (failed or tcp)[:2]],
        )
    if failed:
        ready = sum(ev.ready_endpoint_nodes().values())
        yield Finding(
            "lb-unreachable", Severity.CRITICAL if len(failed) == len(tcp) else Severity.WARNING,
            f"Service {ev.target} load balancer",
            facts={"address": failed[0].host, "ports": sorted({p.port for p in failed}),
                   "outcome": " / ".join(sorted({p.outcome for p in failed})),
                   "latency_ms": failed[0].latency_ms, "answering": sorted({p.target for p in tcp if p.outcome == "open"})},
            evidence=[Ref.probe(p) for p in failed[:4]],
            # Under externalTrafficPolicy: Local the LB has no healthy target when the health
            # checks fail everywhere; that, not the LB, is then the root.
            caused_by=("lb-source-ranges-exclude-client", "local-policy-all-nodes-unhealthy",
                       "health-check-port-unreachable") + (BACKEND_ROOTS if not ready else ()),
        )
