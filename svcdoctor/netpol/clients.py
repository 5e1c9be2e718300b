"""Who must reach the Service's pods, as far as the evidence shows: the Ingress controller
and Gateway data-plane pods that route to it, the nodes for NodePort / LoadBalancer
traffic (the node's address under externalTrafficPolicy Cluster, where kube-proxy
masquerades; the real client under Local), and the clients named on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import kube
from ..kube import Obj
from .evaluate import Endpoint


@dataclass(frozen=True)
class Client:
    endpoint: Endpoint
    why: str            # "the Ingress controller (ingress-nginx) that serves Ingress shop/web"
    kind: str           # "ingress-controller" | "gateway" | "node" | "named" | "cidr"


def namespace_obj(evidence: Any, name: str) -> Obj:
    for n in evidence.of_kind("Namespace"):
        if kube.name(n) == name:
            return n
    # Every namespace carries kubernetes.io/metadata.name (set by the apiserver since 1.21).
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}


def pod_client(evidence: Any, pod: Obj, why: str, kind: str) -> Client:
    return Client(Endpoint.of_pod(pod, namespace_obj(evidence, kube.namespace(pod))), why, kind)


def l7_clients(evidence: Any) -> list[Client]:
    """Controller / data-plane pods in front of the Service (from the L7 evidence)."""
    from ..l7 import classes

    out: list[Client] = []
    t = evidence.target
    refs = [r for r in evidence.l7_refs if (r.namespace, r.name) == (t.namespace, t.name)]
    if not refs:
        return out
    ingresses = {r.owner_ref: r.owner for r in refs if r.owner.get("kind") == "Ingress"}
    running = evidence.shared_value("l7.running", lambda: classes.running(
        evidence.of_kind("Pod"), evidence.nodes.values()))
    by_ref = {f"{kube.namespace(p)}/{kube.name(p)}": p for p in evidence.of_kind("Pod")}
    for ref, ing in ingresses.items():
        for r in classes.claimants(ing, evidence.of_kind("IngressClass"), running):
            for key in r.pods[:1]:   # one pod stands for the controller's replicas (same labels)
                if key in by_ref:
                    out.append(pod_client(evidence, by_ref[key], f"the {r.controller.name} controller serving {ref}",
                                          "ingress-controller"))
    gateways = {(p.namespace, p.name) for r in refs if r.owner.get("kind") != "Ingress"
                for p in _parents(evidence, r.owner)}
    for pod in evidence.of_kind("Pod"):
        lbl = kube.labels(pod)
        name = lbl.get("gateway.networking.k8s.io/gateway-name") or lbl.get("gateway.envoyproxy.io/owning-gateway-name")
        ns = lbl.get("gateway.envoyproxy.io/owning-gateway-namespace") or kube.namespace(pod)
        if name and (ns, name) in gateways and kube.pod_ready(pod):
            out.append(pod_client(evidence, pod, f"the data plane of Gateway {ns}/{name}", "gateway"))
            gateways.discard((ns, name))
    return out


def _parents(evidence: Any, route: Obj) -> list[Any]:
    from ..l7 import gateway as gw

    return gw.parents(route, evidence.of_kind("Gateway"))


def node_clients(evidence: Any) -> list[Client]:
    """Nodes, for NodePort / LoadBalancer traffic under externalTrafficPolicy Cluster."""
    svc = evidence.service
    if kube.service_type(svc) not in ("NodePort", "LoadBalancer"):
        return []
    if (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local":
        return []   # the real client's address arrives: only a named --client-cidr can say
    out = []
    for name, node in sorted(evidence.nodes.items())[:1]:   # one node stands for them all
        ip = evidence.node_address(node, "InternalIP")
        if ip:
            out.append(Client(Endpoint(ip=ip, what=f"node {name}"),
                              f"node {name} ({ip}), the source of {kube.service_type(svc)} traffic after kube-proxy's "
                              "masquerade (externalTrafficPolicy Cluster)", "node"))
    return out


def named_clients(evidence: Any) -> list[Client]:
    """The clients named on the command line, as far as the evidence holds them."""
    import ipaddress

    out = []
    for c in evidence.clients:
        if c.get("cidr"):
            net = ipaddress.ip_network(c["cidr"], strict=False)
            ip = str(next(net.hosts(), net.network_address))
            out.append(Client(Endpoint(ip=ip, what=f"client {c['cidr']}"), f"clients in {c['cidr']} (e.g. {ip})", "cidr"))
        elif c.get("pod"):
            pod = next((p for p in evidence.of_kind("Pod", c.get("namespace"))
                        if kube.name(p) == c["pod"]), None)
            if pod is not None:
                out.append(pod_client(evidence, pod, f"pod {c.get('namespace')}/{c['pod']}", "named"))
        elif c.get("namespace"):
            # "any pod of the namespace": no labels of its own, so only namespace-wide rules apply
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "(any pod)", "namespace": c["namespace"],
                                                                   "labels": {}}, "status": {}}
            out.append(pod_client(evidence, pod, f"pods of namespace {c['namespace']}", "named"))
    return out


def missing_named(evidence: Any) -> list[str]:
    """Named client pods the evidence does not hold (not found, or not readable)."""
    return [f"{c.get('namespace')}/{c['pod']}" for c in evidence.clients if c.get("pod")
            and not any(kube.name(p) == c["pod"] for p in evidence.of_kind("Pod", c.get("namespace")))]
