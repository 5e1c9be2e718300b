"""Egress to the cluster DNS: which pods' egress policies leave it out.

Egress rules see the DNS pods' addresses (after kube-proxy's DNAT), never the kube-dns
Service IP, so a rule "to 10.96.0.10/32 port 53" admits nothing; the usual mistake,
named here when a policy makes it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from .. import kube
from ..kube import Obj
from .evaluate import Endpoint, evaluate, in_block, policy_types

DNS_LABEL = ("k8s-app", "kube-dns")   # CoreDNS and kube-dns both keep this label
PORT = 53


def dns_pods(pods: list[Obj]) -> list[Obj]:
    """The cluster DNS pods that serve (ready), from the pods of kube-system."""
    return [p for p in pods if kube.namespace(p) == "kube-system"
            and kube.labels(p).get(DNS_LABEL[0]) == DNS_LABEL[1] and kube.pod_ready(p)]


def is_cluster_dns(service: Obj) -> bool:
    return kube.namespace(service) == "kube-system" and \
        kube.service_selector(service).get(DNS_LABEL[0]) == DNS_LABEL[1]


def blocked_protocols(policies: list[Obj], src: Endpoint, dns: Endpoint) -> list[str]:
    """Of 53/UDP and 53/TCP, what ``src``'s egress does not admit to the DNS pod."""
    return [proto for proto in ("UDP", "TCP") if not evaluate(policies, src, dns, PORT, proto).egress.allowed]


def service_ip_rule(policies: list[Obj], dns_ips: list[str], service_ips: list[str] = ()) -> tuple[Obj, int, str] | None:
    """An egress rule that admits port 53 only to an ipBlock holding no DNS pod, the
    DNS Service's IP for instance: (policy, rule index, cidr)."""
    for pol in policies:
        for i, rule in enumerate((pol.get("spec") or {}).get("egress") or []):
            ports = rule.get("ports") or []
            if ports and not any(p.get("port") in (PORT, "dns", "dns-tcp") for p in ports):
                continue
            for peer in rule.get("to") or []:
                block = peer.get("ipBlock")
                if not isinstance(block, dict) or any(in_block(ip, block) for ip in dns_ips):
                    continue
                if any(in_block(ip, block) for ip in service_ips) or _host_route(block):
                    return pol, i, str(block.get("cidr"))
    return None


def _host_route(block: Obj) -> bool:
    try:
        return ipaddress.ip_network(str(block.get("cidr")), strict=False).num_addresses == 1
    except ValueError:
        return False


def representative(policy: Obj) -> Obj | None:
    """A pod the policy selects, with no more labels than its selector needs: what "the
    pods of this policy" can be shown to be, without reading every namespace's pods."""
    sel = (policy.get("spec") or {}).get("podSelector") or {}
    labels = dict(sel.get("matchLabels") or {})
    for e in sel.get("matchExpressions") or []:
        if e.get("operator") == "In" and e.get("values"):
            labels.setdefault(str(e.get("key")), str(e["values"][0]))
        elif e.get("operator") == "Exists":
            labels.setdefault(str(e.get("key")), "")
    pod = {"apiVersion": "v1", "kind": "Pod", "status": {},
           "metadata": {"name": "(a pod it selects)", "namespace": kube.namespace(policy), "labels": labels}}
    return pod if kube.label_selector_matches(sel, labels) else None


@dataclass(frozen=True)
class Excluded:
    namespace: str
    policy: Obj
    blocked: list[str]
    selector: str


def excluded_namespaces(policies: list[Obj], dns: Endpoint, namespace_of: Any) -> list[Excluded]:
    """Each namespace where pods selected by an egress policy cannot reach the DNS pod:
    the first such policy per namespace. ``namespace_of(name)`` gives a Namespace object."""
    out: dict[str, Excluded] = {}
    for pol in sorted(policies, key=lambda p: (kube.namespace(p), kube.name(p))):
        ns = kube.namespace(pol)
        if ns in out or "Egress" not in policy_types(pol):
            continue
        pod = representative(pol)
        if pod is None:
            continue
        blocked = blocked_protocols(policies, Endpoint.of_pod(pod, namespace_of(ns)), dns)
        if blocked:
            sel = (pol.get("spec") or {}).get("podSelector") or {}
            labels = kube.labels(pod)
            out[ns] = Excluded(ns, pol, blocked, "pods " + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                               if labels else "every pod" if not sel else "the pods it selects")
    return list(out.values())
