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
