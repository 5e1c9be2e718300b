"""Does traffic from S to pod P on port/protocol Q pass the NetworkPolicies?

The semantics (Kubernetes API reference and the e2e ``netpol`` conformance suite):

* A pod is isolated for a direction only when some policy in its namespace selects it
  (``podSelector``; ``{}`` selects every pod) and lists that direction in ``policyTypes``.
  Without ``policyTypes`` (objects not defaulted by an apiserver): Ingress always, Egress
  when the policy has egress rules. Policies are additive: a connection is allowed if any
  rule of any policy selecting the pod allows it.
* A rule with no ``from``/``to`` matches every peer; with no ``ports``, every port. Peers
  in one rule are OR-ed; ``namespaceSelector`` and ``podSelector`` in one peer are AND-ed;
  ``podSelector`` alone means the policy's own namespace; ``namespaceSelector`` alone
  means every pod of the matching namespaces.
* ``ipBlock`` (``cidr`` minus ``except``) matches addresses: nodes and external clients,
  and pod IPs too, as the conformance suite expects ("should allow egress access to
  server in CIDR block"). The API calls pod IPs in an ipBlock implementation-defined
  (they are ephemeral, and some plugins match pods only by selector), so a decision that
  rests on an ipBlock matching a pod is flagged (``ip_block_pod``) for the report to say.
* Ports are the destination pod's (after the Service's DNAT: the targetPort). A named
  port is resolved on the destination pod's containers (name and protocol); ``endPort``
  makes a range; the protocol defaults to TCP.
* A connection needs the source's egress and the destination's ingress to allow it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

from .. import kube
from ..kube import Obj

PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (with its namespace object), or an address."""

    ip: str = ""
    pod: Obj | None = field(default=None, compare=False)
    namespace: Obj | None = field(default=None, compare=False)   # the pod's Namespace
    what: str = ""          # "node node-a", "client 203.0.113.7"

    @classmethod
    def of_pod(cls, pod: Obj, namespace: Obj | None) -> "Endpoint":
        ip = str((pod.get("status") or {}).get("podIP") or "")
        return cls(ip, pod, namespace or {"metadata": {"name": kube.namespace(pod)}}, f"pod {kube.namespace(pod)}/{kube.name(pod)}")

    @property
    def is_pod(self) -> bool:
        return self.pod is not None

    @property
    def ns_name(self) -> str:
        return kube.namespace(self.pod) if self.pod is not None else ""


@dataclass(frozen=True)
class Rule:
    policy: Obj = field(compare=False)
    index: int              # position in spec.ingress / spec.egress
    direction: str          # "ingress" | "egress"

    @property
    def name(self) -> str:
        return f"{kube.namespace(self.policy)}/{kube.name(self.policy)}"

    def describe(self) -> str:
        return f"NetworkPolicy {self.name} {self.direction}[{self.index}]"


@dataclass
class Decision:
    """One direction's verdict: not isolated (allowed), or isolated and allowed by rules."""

    direction: str
    policies: list[Obj] = field(default_factory=list)   # the policies isolating the pod
    allowed_by: list[Rule] = field(default_factory=list)
    ip_block_pod: bool = False    # an ipBlock matching a pod's IP is among what allowed it

    @property
    def isolated(self) -> bool:
        return bool(self.policies)

    @property
    def allowed(self) -> bool:
        return not self.isolated or bool(self.allowed_by)


@dataclass
class Verdict:
    ingress: Decision
    egress: Decision

    @property
    def allowed(self) -> bool:
        return self.ingress.allowed and self.egress.allowed


def policy_types(policy: Obj) -> list[str]:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return [str(t) for t in types]
    return ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def selects(policy: Obj, pod: Obj) -> bool:
    return (kube.namespace(policy) == kube.namespace(pod)
            and kube.label_selector_matches((policy.get("spec") or {}).get("podSelector"), kube.labels(pod)))


def isolating(policies: Iterable[Obj], pod: Obj, direction: str) -> list[Obj]:
    """The policies that select ``pod`` for ``direction`` ("Ingress" | "Egress")."""
    return [p for p in policies if selects(p, pod) and direction in policy_types(p)]


def in_block(ip: str, block: Obj) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
        if addr not in ipaddress.ip_network(str(block.get("cidr")), strict=False):
            return False
        return not any(addr in ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or []
                       if ipaddress.ip_network(str(e), strict=False).version == addr.version)
    except (ValueError, TypeError):
        return False


def peer_matches(peer: Obj, policy: Obj, other: Endpoint) -> tuple[bool, bool]:
    """(matches, only through an ipBlock on a pod)."""
    if "ipBlock" in peer and peer.get("ipBlock") is not None:
        hit = bool(other.ip) and in_block(other.ip, peer["ipBlock"])
        return hit, hit and other.is_pod
    if not other.is_pod:
        return False, False   # pod and namespace selectors match pods only
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and pod_sel is None:
        return False, False
    if ns_sel is None:
        in_ns = other.ns_name == kube.namespace(policy)
    else:
        in_ns = kube.label_selector_matches(ns_sel, kube.labels(other.namespace or {}))
    return in_ns and (pod_sel is None or kube.label_selector_matches(pod_sel, kube.labels(other.pod or {}))), False


def resolve_port(port: Any, protocol: str, dest: Obj | None) -> list[int]:
    """A policy port (number or name) as numbers on the destination pod."""
    if isinstance(port, int):
        return [port]
    if dest is None:
        return []
    return [cp for _c, nm, cp, proto in kube.declared_ports(dest) if nm == port and proto == protocol]


def port_matches(rule_ports: list[Obj] | None, port: int, protocol: str, dest: Obj | None) -> bool:
    if not rule_ports:
        return True
    for rp in rule_ports:
        proto = str(rp.get("protocol") or "TCP")
        if proto != protocol:
            continue
        if rp.get("port") is None:
            return True   # every port of that protocol
        numbers = resolve_port(rp["port"], proto, dest)
        end = rp.get("endPort")
        for n in numbers:
            if (isinstance(end, int) and n <= port <= end) or n == port:
                return True
    return False


def _rules_allowing(policies: list[Obj], direction: str, other: Endpoint, port: int, protocol: str,
                    dest: Obj | None) -> tuple[list[Rule], bool]:
    key, peers_key = ("ingress", "from") if direction == "ingress" else ("egress", "to")
    allowed, ip_block_pod = [], False
    for pol in policies:
        for i, rule in enumerate((pol.get("spec") or {}).get(key) or []):
            if not port_matches(rule.get("ports"), port, protocol, dest):
                continue
            peers = rule.get(peers_key)
            if not peers:
                allowed.append(Rule(pol, i, direction))
                continue
            for peer in peers:
                hit, via_block = peer_matches(peer, pol, other)
                if hit:
                    allowed.append(Rule(pol, i, direction))
                    ip_block_pod |= via_block
                    break
    return allowed, ip_block_pod


def evaluate(policies: Iterable[Obj], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> Verdict:
    """Does ``src`` reach pod ``dst`` on ``port``/``protocol``? ``dst`` must be a pod."""
    policies = list(policies)
    assert dst.pod is not None, "the destination of a NetworkPolicy evaluation is a pod"
    ing_pols = isolating(policies, dst.pod, "Ingress")
    ing_rules, ing_block = _rules_allowing(ing_pols, "ingress", src, port, protocol, dst.pod)
    ingress = Decision("ingress", ing_pols, ing_rules, ing_block)
    if src.pod is not None:
        eg_pols = isolating(policies, src.pod, "Egress")
        eg_rules, eg_block = _rules_allowing(eg_pols, "egress", dst, port, protocol, dst.pod)
        egress = Decision("egress", eg_pols, eg_rules, eg_block)
    else:
        egress = Decision("egress")   # nodes and outside clients: no NetworkPolicy applies
    return Verdict(ingress, egress)
