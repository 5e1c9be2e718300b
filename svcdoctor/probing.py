"""Plan probes through the plugins, check every target against the evidence, run them."""

from __future__ import annotations

from . import kube
from .errors import UsageError
from .evidence import Evidence
from .probes import Probe, ProbeOptions, run
from .registry import Registry


def allowed_targets(evidence: Evidence) -> set[str]:
    """Every address the Service's own evidence names: nodes, LB status, ExternalName, and
    the Ingress / Gateway status addresses of the L7 hop in focus."""
    from .l7.addresses import addresses

    allowed: set[str] = addresses(evidence)
    if evidence.target.kind != "Service":
        return allowed
    for node in evidence.nodes.values():
        for addr in (node.get("status") or {}).get("addresses") or []:
            if addr.get("address"):
                allowed.add(str(addr["address"]))
    status = (evidence.service.get("status") or {}).get("loadBalancer") or {}
    for ing in status.get("ingress") or []:
        allowed |= {str(ing[k]) for k in ("ip", "hostname") if ing.get(k)}
    ext = (evidence.service.get("spec") or {}).get("externalName")
    if ext:
        allowed.add(str(ext))
    return allowed


def probe(evidence: Evidence, registry: Registry, options: ProbeOptions) -> None:
    """Fill ``evidence.probes`` (live diagnoses only)."""
    if not options.enabled:
        evidence.probe_note = "probes disabled (--no-probe)"
        return
    planned: list[Probe] = []
    allowed = allowed_targets(evidence)

    def plan(p: Probe) -> None:
        host = p.host or p.target
        if host not in allowed:
            raise UsageError(f"a plugin planned a probe to {host!r}, which is not an address of "
                             f"{evidence.target}; refused")
        planned.append(p)

    registry.pm.hook.plan_probes(evidence=evidence, plan=plan, options=options)
    evidence.probes = [p.to_dict() for p in run(planned, options)]
