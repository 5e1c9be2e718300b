"""The report: findings ranked root cause first, a one-line verdict, an exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import kube
from .evidence import Evidence
from .findings import Finding, Severity

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL = 0, 1, 2


@dataclass
class Report:
    target: str
    source: str
    service: dict[str, Any]           # a short description of the Service itself
    findings: list[Finding]           # rank order: each root cause, then its consequences
    verdict: str
    could_not_verify: list[Finding] = field(default_factory=list)
    probes: str = ""                  # what was probed, or why nothing was
    summary: Any = None               # svcdoctor.summary.Summary, with --summarize only
    # For an L7 target (ingress/NAME, a route, a URL): each backend Service's own report.
    backends: list["Report"] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        sev = {f.severity for r in [self, *self.backends] for f in r.findings}
        if Severity.CRITICAL in sev:
            return EXIT_CRITICAL
        if Severity.WARNING in sev:
            return EXIT_WARNING
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "svcdoctor.report/v1",
            "target": self.target, "source": self.source, "service": self.service,
            "verdict": self.verdict, "exitCode": self.exit_code, "probes": self.probes,
            "findings": [f.to_dict() for f in self.findings + self.could_not_verify],
            **({"summary": self.summary.to_dict()} if self.summary is not None else {}),
            **({"backends": [b.to_dict() for b in self.backends]} if self.backends else {}),
        }


def rank(findings: list[Finding]) -> list[Finding]:
    """Roots by severity (stable within a severity), each followed by its consequences.

    A ``caused_by`` naming a finding that is not in the report (its check was disabled, or
    it did not fire) is cleared: the finding then stands as a root of its own."""
    ids = {f.id for f in findings}
    for f in findings:
        # A check may name several candidate causes (it cannot know which other checks
        # fired); link to the first one that is in this report.
        candidates = f.caused_by if isinstance(f.caused_by, (tuple, list)) else (f.caused_by,)
        f.caused_by = next((c for c in candidates if c in ids and c != f.id), None)
    children: dict[str, list[Finding]] = {}
    for f in findings:
        if f.caused_by:
            children.setdefault(f.caused_by, []).append(f)
    out: list[Finding] = []
    placed: set[int] = set()

    def place(f: Finding) -> None:
        if id(f) in placed:
            return
        placed.add(id(f))
        out.append(f)
        for child in sorted(children.get(f.id, []), key=lambda c: c.severity.rank):
            place(child)

    for f in sorted((f for f in findings if not f.caused_by), key=lambda f: f.severity.rank):
        place(f)
    for f in findings:  # a cycle of caused_by: keep every finding anyway
        place(f)
    return out


def describe_service(evidence: Evidence) -> dict[str, Any]:
    if evidence.target.kind != "Service":
        return describe_front(evidence)
    svc = evidence.service
    spec = svc.get("spec") or {}
    ready = sum(1 for p in evidence.selected_pods if kube.pod_ready(p) and not kube.pod_terminating(p))
    return {
        "type": kube.service_type(svc),
        "selector": kube.format_selector(kube.service_selector(svc)) or None,
        "ports": [
            {"name": p.get("name"), "port": p.get("port"), "targetPort": kube.target_port(p),
             "protocol": kube.port_protocol(p), "nodePort": p.get("nodePort")}
            for p in kube.service_ports(svc)
        ],
        "clusterIP": spec.get("clusterIP"),
        "externalName": spec.get("externalName"),
        "selectedPods": len(evidence.selected_pods) if evidence.selector else None,
        "readyPods": ready if evidence.selector else None,
        "reachedThrough": evidence.reached_through or _routes_to(evidence) or None,
    }


def _routes_to(evidence: Evidence) -> list[str]:
    """How traffic reaches this Service from outside: its Ingresses and routes."""
    from .chain import via

    t = evidence.target
    return via([r for r in evidence.l7_refs if (r.namespace, r.name) == (t.namespace, t.name)])


def describe_front(evidence: Evidence) -> dict[str, Any]:
    """What an L7 target routes: each backend reference in focus."""
    refs = evidence.l7_refs
    return {"type": evidence.target.kind,
            "backends": [r.describe() for r in refs],
            "services": sorted({r.service for r in refs})}


def describe_probes(evidence: Evidence) -> str:
    """'7 probes: 3 NodePort (3 open), ...' or the reason none ran."""
    results = evidence.probe_results
    if not results:
        return evidence.probe_note
    names = {"nodeport": "NodePort", "health-check": "health check", "lb": "load balancer",
             "external-name": "DNS", "l7": "Ingress/Gateway"}
    groups: dict[str, list[str]] = {}
    for p in results:
        outcome = f"HTTP {p.detail['status']}" if p.purpose == "l7" and "status" in p.detail else p.outcome
        groups.setdefault(names.get(p.purpose, p.purpose), []).append(outcome)
    parts = []
    for name, outcomes in groups.items():
        counts = ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes)))
        parts.append(f"{len(outcomes)} {name} ({counts})")
    return f"{len(results)} probes: " + "; ".join(parts)


def verdict(target: str, findings: list[Finding], service: dict[str, Any]) -> str:
    top = next((f for f in findings if f.severity in (Severity.CRITICAL, Severity.WARNING)), None)
    if top is not None:
        return f"{top.severity.value.upper()}: {top.title}"
    if "backends" in service:
        n = len(service["services"])
        return (f"OK: no problem found in the L7 hop — {target} reaches {n} backend Service"
                f"{'' if n == 1 else 's'}" + (f": {', '.join(service['services'])}" if n else ""))
    parts = [f"{service['type']} Service {target}"]
    if service.get("selectedPods") is not None:
        parts.append(f"{service['readyPods']}/{service['selectedPods']} selected pods ready")
    return "OK: no problem found — " + ", ".join(parts)
