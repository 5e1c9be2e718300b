"""Who should implement a LoadBalancer Service: implementations detected by plugins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import kube
from .evidence import Evidence
from .findings import Ref


@dataclass
class LBImplementation:
    name: str                            # "MetalLB", "cloud controller (aws)", ...
    classes: tuple[str, ...] = ()        # spec.loadBalancerClass values it serves
    default: bool = True                 # serves Services without a class
    certain: bool = True                 # False: present, but maybe not doing LB (e.g. Cilium)
    evidence: list[Ref] = field(default_factory=list)

    def serves(self, lb_class: str | None) -> bool:
        return lb_class in self.classes if lb_class else self.default


def detect(evidence: Evidence, registry: Any) -> None:
    """Fill ``evidence.lb_implementations`` (Services of type LoadBalancer only)."""
    if kube.service_type(evidence.service) != "LoadBalancer":
        return
    found: list[LBImplementation] = []

    def add(name: str, classes: tuple[str, ...] | list[str] = (), default: bool = True,
            certain: bool = True, evidence: list[Ref] | None = None) -> None:
        for impl in found:  # the same implementation seen twice: merge the evidence
            if impl.name == name:
                impl.classes = tuple(sorted(set(impl.classes) | set(classes)))
                impl.default = impl.default or default
                impl.evidence += evidence or []
                return
        found.append(LBImplementation(name, tuple(classes), default, certain, list(evidence or [])))

    registry.pm.hook.detect_lb_implementations(evidence=evidence, found=add)
    evidence.lb_implementations = found


AWS_LBC_CLASS = "service.k8s.aws/nlb"
# Nodes with this label are never load-balancer backends (cloud controllers, MetalLB speakers).
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
_AWS = "service.beta.kubernetes.io/aws-load-balancer-"


def requested_class(service: dict[str, Any]) -> tuple[str | None, str]:
    """The loadBalancerClass a Service asks for, and how it asks (for the words).

    Besides ``spec.loadBalancerClass``, annotations hand a Service to the AWS Load Balancer
    Controller: ``aws-load-balancer-type: nlb-ip``, or ``external`` together with
    ``aws-load-balancer-nlb-target-type`` (its ``IsServiceSupported``); the in-tree AWS cloud
    provider leaves such Services alone, exactly as if they had that class."""
    spec = service.get("spec") or {}
    if spec.get("loadBalancerClass"):
        return spec["loadBalancerClass"], f"spec.loadBalancerClass: {spec['loadBalancerClass']}"
    ann = kube.meta(service).get("annotations") or {}
    lb_type = ann.get(_AWS + "type", "")
    if lb_type == "nlb-ip":
        return AWS_LBC_CLASS, f"the annotation {_AWS}type: nlb-ip"
    if lb_type == "external" and ann.get(_AWS + "nlb-target-type"):
        return AWS_LBC_CLASS, (f"the annotations {_AWS}type: external and {_AWS}nlb-target-type: "
                               f"{ann[_AWS + 'nlb-target-type']}")
    return None, ""
