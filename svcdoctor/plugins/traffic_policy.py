"""externalTrafficPolicy: Local — kube-proxy's per-Service health check on every node.

Under Local, a node answers the health check with 200 only when it holds a ready local
endpoint; the others answer 503 and the load balancer takes them out. That is expected
(info). It is a fault when every node fails, including the nodes that do run ready pods
(kube-proxy's node name differs from the Node object, kube-proxy unhealthy), or when the
health-check port does not answer at all."""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.probes import BACKEND_ROOTS, Probe, ProbeOptions, nodes_to_probe

SILENT = ("timeout", "refused", "no-route", "unreachable", "error")


@hookimpl
def register_checks(register) -> None:
    register(health_checks, emits=("local-policy-all-nodes-unhealthy", "local-policy-node-without-endpoint",
                                   "health-check-port-unreachable"))
    register(single_node, emits=("local-policy-single-node",))


@hookimpl
def plan_probes(evidence: Evidence, plan, options: ProbeOptions) -> None:
    if evidence.target.kind != "Service":
        return
    hc = (evidence.service.get("spec") or {}).get("healthCheckNodePort")
    if not hc or not _local(evidence):
        return
    for node, addr in nodes_to_probe(evidence, options):
        plan(Probe("http", "health-check", f"{addr}:{hc}", host=addr, port=int(hc), node=node,
                   path="/healthz"))


def _local(ev: Evidence) -> bool:
    return (kube.service_type(ev.service) in ("NodePort", "LoadBalancer")
            and (ev.service.get("spec") or {}).get("externalTrafficPolicy") == "Local")


def _ref(p: Probe) -> Ref:
    return Ref.probe(p)


def health_checks(ev: Evidence) -> Iterator[Finding]:
    if not _local(ev):
        return
    probes = [p for p in ev.probe_results if p.purpose == "health-check" and p.outcome != "not-run"]
    if not probes:
        return
    hc = probes[0].port
    ready_nodes = ev.ready_endpoint_nodes()
    silent = [p for p in probes if p.outcome in SILENT]
    answered = [p for p in probes if p.outcome == "open"]
    healthy = [p for p in answered if p.detail.get("status") == 200]
    unhealthy = [p for p in answered if p.detail.get("status") != 200]
    subject = f"Service {ev.target} healthCheckNodePort {hc}"
    expected = sorted(ready_nodes)
    base = {"health_port": hc, "probed": len(probes), "expected_nodes": expected,
            "selector": kube.format_selector(ev.selector),
            "healthy_nodes": sorted(p.node for p in healthy)}
    if silent:
        yield Finding(
            "health-check-port-unreachable",
            Severity.CRITICAL if len(silent) == len(probes) else Severity.WARNING, subject,
            facts={**base, "silent_nodes": sorted(p.node for p in silent), "silent": len(silent),
                   "outcome": " / ".join(sorted({p.outcome for p in silent}))},
            evidence=[_ref(p) for p in silent[:4]],
        )
    if not healthy and unhealthy and len(silent) < len(probes):
        # Nodes that hold ready pods yet report no local endpoint: kube-proxy's idea of
        # its node name is not the Node object's name (hostname-override).
        mismatch = sorted(p.node for p in unhealthy
                          if p.node in ready_nodes and p.detail.get("localEndpoints") == 0)
        proxy_down = sorted(p.node for p in unhealthy if p.detail.get("serviceProxyHealthy") is False)
        yield Finding(
            "local-policy-all-nodes-unhealthy", Severity.CRITICAL, subject,
            facts={**base, "unhealthy": len(unhealthy), "name_mismatch_nodes": mismatch,
                   "proxy_unhealthy_nodes": proxy_down,
                   "no_ready_endpoints": "yes" if not ready_nodes else ""},
            evidence=[_ref(p) for p in sorted(unhealthy, key=lambda p: p.node not in ready_nodes)[:4]],
            caused_by=BACKEND_ROOTS if not ready_nodes else None,
        )
        return
    # Expected 503s: nodes without a local ready endpoint.
    expected_503 = [p for p in unhealthy if p.node not in ready_nodes]
    if expected_503:
        yield Finding(
            "local-policy-node-without-endpoint", Severity.INFO, subject,
            facts={**base, "without_endpoint": sorted(p.node for p in expected_503),
                   "count": len(expected_503)},
            evidence=[_ref(p) for p in (healthy[:1] + expected_503[:3])],
        )


def single_node(ev: Evidence) -> Iterator[Finding]:
    if not _local(ev) or len(ev.nodes) < 2:
        return
    ready_nodes = ev.ready_endpoint_nodes()
    if len(ready_nodes) != 1:
        return
    (node, count), = ready_nodes.items()
    yield Finding(
        "local-policy-single-node", Severity.WARNING, f"Service {ev.target}",
        facts={"node": node, "ready": count, "nodes": len(ev.nodes)},
        evidence=[Ref.field(ev.service, "spec.externalTrafficPolicy", "Local")]
        + [Ref("field", f"EndpointSlice {ev.target.namespace}/{kube.name(s)}",
               f"every ready endpoint of {ev.target} has nodeName {node}") for s in ev.endpoint_slices[:1]],
    )
