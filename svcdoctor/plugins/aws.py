"""AWS: annotations the controller that owns the Service does not read.

Two controllers build AWS load balancers: the in-tree / cloud-provider-aws service
controller and the AWS Load Balancer Controller. Which one owns a Service follows from its
loadBalancerClass and annotations (:func:`svcdoctor.loadbalancers.requested_class`); each
ignores the other's annotations without a word. This check names the ignored annotations,
and the one combination that leaves the Service to nobody. Words: ``aws_ownership.yaml``.
"""

from __future__ import annotations

from typing import Any, Iterator


from svcdoctor import hookimpl, kube, tables
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.loadbalancers import AWS_LBC_CLASS, requested_class
from svcdoctor.wording import cause_facts

P = "service.beta.kubernetes.io/aws-load-balancer-"
# Read only by the AWS Load Balancer Controller (its annotation guide; failure-modes.md §2.6).
LBC_ONLY = tuple(P + a for a in ("scheme", "nlb-target-type", "attributes", "target-group-attributes"))
# Classic ELB settings of the in-tree controller; the AWS Load Balancer Controller builds NLBs.
CLB_ONLY = tuple(P + a for a in ("connection-draining-enabled", "connection-draining-timeout",
                                 "connection-idle-timeout"))


def entries() -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in tables.bundled("svcdoctor.plugins", "aws_ownership.yaml")}


@hookimpl
def register_checks(register) -> None:
    register(annotation_ownership, emits=("lb-provisioning-failed",))


def on_aws(ev: Evidence) -> bool:
    """Nodes initialised by the AWS cloud provider, or an AWS controller acting on the Service."""
    if any(((n.get("spec") or {}).get("providerID") or "").startswith("aws://") for n in ev.nodes.values()):
        return True
    return any(kube.event_source(e) == "service" for e in ev.events_for("Service", ev.target.name))


def annotation_ownership(ev: Evidence) -> Iterator[Finding]:
    svc = ev.service
    if kube.service_type(svc) != "LoadBalancer" or not on_aws(ev):
        return
    ann = kube.meta(svc).get("annotations") or {}
    lb_class, how = requested_class(svc)
    pending = not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    entry, severity, present = None, Severity.WARNING, []
    if lb_class is None and ann.get(P + "type") == "external":
        entry, severity = entries()["aws-type-external-without-target-type"], Severity.CRITICAL
        present = [P + "type"]
    elif lb_class is None and not (svc.get("spec") or {}).get("loadBalancerClass"):
        present = [a for a in LBC_ONLY if a in ann]
        if ann.get(P + "scheme") == "internal" and not pending:
            entry = entries()["aws-scheme-internal-ignored-in-tree"]
        elif present:
            entry = entries()["aws-lbc-annotations-ignored-in-tree"]
    elif lb_class == AWS_LBC_CLASS:
        present = [a for a in CLB_ONLY if a in ann]
        if present:
            entry = entries()["aws-in-tree-annotations-ignored-by-lbc"]
    if entry is None:
        return
    shown = ", ".join(f"{a}: {ann[a]}" for a in present)
    base = {"namespace": ev.target.namespace, "service": ev.target.name, "annotations": shown}
    facts = {"translation": entry["id"], "provider": entry["provider"], "annotations": shown,
             "owner": ("nobody: the in-tree controller skips type external, the AWS Load Balancer "
                       "Controller needs a target type" if entry["id"] == "aws-type-external-without-target-type"
                       else how and f"the AWS Load Balancer Controller ({how})"
                       or "the in-tree controller (no loadBalancerClass, no hand-over annotation)"),
             "pending": "yes" if pending else "", "ignored": "yes", "outcome": "is not built as the Service asks"
             if not pending else "has no controller", **cause_facts(entry, base)}
    refs = [Ref.field(svc, f"metadata.annotations[{a}]", ann[a]) for a in present]
    refs.append(Ref.field(svc, "status.loadBalancer", (svc.get("status") or {}).get("loadBalancer") or {}))
    yield Finding(entry["finding"], severity if pending or severity == Severity.WARNING else Severity.WARNING,
                  f"Service {ev.target} load balancer", facts=facts, evidence=refs)
