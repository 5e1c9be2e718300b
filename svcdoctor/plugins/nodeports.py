"""NodePorts as an outside client sees them: probed on every node (bounded), then judged
against what the endpoints predict."""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.probes import BACKEND_ROOTS, Probe, ProbeOptions, nodes_to_probe

BLOCKED = ("timeout", "no-route", "unreachable")


@hookimpl
def register_checks(register) -> None:
    register(nodeport_reachability, emits=("nodeport-blocked", "nodeport-refused"))


@hookimpl
def plan_probes(evidence: Evidence, plan, options: ProbeOptions) -> None:
    if evidence.target.kind != "Service":
        return
    if kube.service_type(evidence.service) not in ("NodePort", "LoadBalancer"):
        return
    nodes = nodes_to_probe(evidence, options)
    for port in kube.service_ports(evidence.service):
        if not port.get("nodePort") or kube.port_protocol(port) != "TCP":
            continue  # UDP has no "refused" to learn from; SCTP is rare
        for node, addr in nodes:
            plan(Probe("tcp", "nodeport", f"{addr}:{port['nodePort']}", host=addr,
                       port=int(port["nodePort"]), node=node,
                       service_port=str(port.get("name") or port.get("port"))))


def _local_policy(ev: Evidence) -> bool:
    return (ev.service.get("spec") or {}).get("externalTrafficPolicy") == "Local"


def nodeport_reachability(ev: Evidence) -> Iterator[Finding]:
    probes = [p for p in ev.probe_results if p.purpose == "nodeport" and p.outcome != "not-run"]
    if not probes:
        return
    ready_nodes = ev.ready_endpoint_nodes()
    ready = sum(ready_nodes.values())
    local = _local_policy(ev)
    by_port: dict[str, list[Probe]] = {}
    for p in probes:
        by_port.setdefault(p.service_port, []).append(p)
    # kube-proxy's own view of its local endpoints, where the health checks told us.
    proxy_sees_none = {p.node for p in ev.probe_results
                       if p.purpose == "health-check" and p.detail.get("localEndpoints") == 0}
    for sport, ps in by_port.items():
        # Under externalTrafficPolicy: Local a node drops NodePort traffic by design when
        # kube-proxy sees no local endpoint there; only the other nodes are expected to answer.
        judged = [p for p in ps if not local or (p.node in ready_nodes and p.node not in proxy_sees_none)]
        blocked = [p for p in judged if p.outcome in BLOCKED]
        refused = [p for p in judged if p.outcome == "refused"]
        opened = [p for p in judged if p.outcome == "open"]
        base = {"node_port": ps[0].port, "service_port": sport, "probed": len(judged),
                "open_nodes": sorted(p.node for p in opened), "ready_endpoints": ready,
                "example_target": (blocked or refused or ps)[0].target}
        if blocked and ready:
            yield Finding(
                "nodeport-blocked", Severity.CRITICAL if len(blocked) == len(judged) else Severity.WARNING,
                f"Service {ev.target} NodePort {ps[0].port}",
                facts={**base, "blocked_nodes": sorted(p.node for p in blocked),
                       "blocked": len(blocked), "outcome": _outcomes(blocked)},
                evidence=[Ref.probe(p) for p in blocked[:4]],
            )
        if refused:
            yield Finding(
                "nodeport-refused", Severity.CRITICAL if len(refused) == len(judged) else Severity.WARNING,
                f"Service {ev.target} NodePort {ps[0].port}",
                facts={**base, "refused_nodes": sorted(p.node for p in refused), "refused": len(refused),
                       "no_endpoints": "yes" if not ready else "",
                       "endpoints_ready": "yes" if ready else ""},
                evidence=[Ref.probe(p) for p in refused[:4]],
                caused_by=BACKEND_ROOTS if not ready else None,
            )


def _outcomes(probes: list[Probe]) -> str:
    kinds = sorted({p.outcome for p in probes})
    return " / ".join(kinds)
