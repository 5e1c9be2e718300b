"""NetworkPolicy scenarios. In cluster "l7" (tests/l7_scenarios.py: ingress-nginx played by
the test, in namespace ingress-nginx) the policies stand between the controller and the
pods; the apiserver stores them with its defaults (policyTypes filled in). The shared
control plane gets flannel's DaemonSet in kube-system for the "not enforced" case."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import l7_scenarios as l7
from scenarios import Scenario, _wait_ready, deployment, service

CONTROLLER_PODS = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}


def netpol(name: str, ns: str, spec: dict) -> str:
    return json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": name, "namespace": ns}, "spec": spec})


def _from_controller(with_namespace: bool) -> dict:
    peer: dict[str, Any] = {"podSelector": {"matchLabels": CONTROLLER_PODS}}
    if with_namespace:
        peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    return peer


def _app_with_ingress(name: str, ns: str) -> list[str]:
    return [*l7.app(name, ns), l7.ingress(name, ns, [(f"{name}.np.example", "/", name, "http")])]


def _others(ns: str) -> list[str]:
    """A crowded namespace: five more apps, each with its own (correct) policy."""
    out = []
    for other in ("cart", "search", "profile", "reviews", "media"):
        out += _app_with_ingress(other, ns)
        out.append(netpol(f"allow-{other}", ns, {"podSelector": {"matchLabels": {"app": other}}, "policyTypes": ["Ingress"],
                                                 "ingress": [{"from": [_from_controller(True)], "ports": [{"port": 8080}]}]}))
    return out


def _served(ip: str, *names: str):
    def setup(cp: Any, sc: Scenario) -> None:
        _wait_ready(cp, sc, 2)
        for n in names:
            l7.ingress_address(cp, sc.namespace, n, ip)
    return setup


DEFAULT_DENY = {"podSelector": {}, "policyTypes": ["Ingress"]}

SCENARIOS = [
    Scenario("netpol-blocks-ingress-controller",
             "Crowded namespace: web's policy admits the ingress-nginx pods by podSelector alone, which means "
             "pods in np-shop; the controller runs in ingress-nginx and is dropped.",
             "np-shop", "web",
             [*_app_with_ingress("web", "np-shop"), *_others("np-shop"),
              netpol("default-deny", "np-shop", DEFAULT_DENY),
              netpol("allow-ingress-controller", "np-shop", {
                  "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [_from_controller(False)], "ports": [{"port": 8080}]}]})],
             ["network-policy-blocks-client"], setup=_served("127.0.0.42", "web"), cluster="l7"),
    Scenario("netpol-service-port",
             "api's policy admits the ingress controller on port 80, the Service port; after kube-proxy's DNAT "
             "the pods are reached on 8080.",
             "np-api", "api",
             [*_app_with_ingress("api", "np-api"), netpol("default-deny", "np-api", DEFAULT_DENY),
              netpol("allow-ingress-controller", "np-api", {
                  "podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [_from_controller(True)], "ports": [{"port": 80}]}]})],
             ["network-policy-wrong-port"], setup=_served("127.0.0.43", "api"), cluster="l7"),
    Scenario("netpol-healthy",
             "Default deny for ingress and egress, with the controller admitted on 8080 and DNS allowed: healthy.",
             "np-ok", "shop",
             [*_app_with_ingress("shop", "np-ok"),
              netpol("default-deny", "np-ok", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
              netpol("allow-controller", "np-ok", {"podSelector": {"matchLabels": {"app": "shop"}}, "policyTypes": ["Ingress"],
                                                   "ingress": [{"from": [_from_controller(True)],
                                                                "ports": [{"port": 8080, "protocol": "TCP"}]}]}),
              netpol("allow-dns", "np-ok", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                  "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                          "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                  "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})],
             [], setup=_served("127.0.0.44", "shop"), cluster="l7"),
    Scenario("netpol-namespace-label",
             "books's policy admits namespaces labelled network.example/ingress=true; the ingress-nginx "
             "namespace does not carry that label.",
             "np-books", "books",
             [*_app_with_ingress("books", "np-books"), netpol("allow-ingress", "np-books", {
                 "podSelector": {"matchLabels": {"app": "books"}}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"network.example/ingress": "true"}}}]}]})],
             ["network-policy-blocks-client"], setup=_served("127.0.0.45", "books"), cluster="l7"),
    Scenario("netpol-blocks-nodes",
             "NodePort Service metrics behind a default-deny policy: NodePort traffic arrives from the nodes' "
             "addresses (externalTrafficPolicy Cluster), which nothing admits.",
             "np-nodes", "metrics",
             [*l7.app("metrics", "np-nodes")[:1], service("metrics", "np-nodes", {"app": "metrics"}, extra="type: NodePort\n"),
              netpol("default-deny", "np-nodes", DEFAULT_DENY)],
             ["network-policy-blocks-client"], cluster="l7"),
    Scenario("netpol-nodeport-wrong-port",
             "NodePort Service stats: the policy admits the nodes' addresses, but on the NodePort 30480 instead "
             "of the pods' 8080.",
             "np-stats", "stats",
             [*l7.app("stats", "np-stats")[:1],
              service("stats", "np-stats", {"app": "stats"},
                      ports="[{name: http, port: 80, targetPort: http, nodePort: 30480}]", extra="type: NodePort\n"),
              netpol("allow-nodes", "np-stats", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{
                  "from": [{"ipBlock": {"cidr": "127.0.0.0/24"}}], "ports": [{"port": 30480}]}]})],
             ["network-policy-wrong-port"], cluster="l7"),
    Scenario("netpol-blocks-dns",
             "worker's namespace denies all egress but to its database; the cluster DNS is not admitted.",
             "np-worker", "worker",
             [*l7.app("worker", "np-worker"),
              netpol("egress-db-only", "np-worker", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                  "to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}], "ports": [{"port": 5432}]}]})],
             ["network-policy-blocks-dns"], cluster="l7"),
]

COREDNS = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
    spec:
      replicas: 2
      selector: {matchLabels: {k8s-app: kube-dns}}
      template:
        metadata: {labels: {k8s-app: kube-dns}}
        spec:
          containers:
          - name: coredns
            image: registry.k8s.io/coredns/coredns:v1.12.0
            ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}]
    """)

FLANNEL = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: kube-flannel-ds, namespace: kube-system, labels: {app: flannel}}
    spec:
      selector: {matchLabels: {app: flannel}}
      template:
        metadata: {labels: {app: flannel}}
        spec:
          hostNetwork: true
          tolerations: [{operator: Exists}]
          containers:
          - {name: kube-flannel, image: "ghcr.io/flannel-io/flannel:v0.26.4"}
    """)


def _flannel(cp: Any, sc: Scenario) -> None:
    cp.kubectl("apply", "-f", "-", input=FLANNEL)
    cp.wait_until(lambda: any(p["metadata"]["name"].startswith("kube-flannel-ds-") for p in json.loads(
        cp.kubectl("-n", "kube-system", "get", "pods", "-o", "json").stdout)["items"]), timeout=60, what="flannel pods")
    _wait_ready(cp, sc, 2)


FRONTEND = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: frontend, namespace: np-front, labels: {app: frontend}}
    spec:
      containers: [{name: frontend, image: "shop/frontend:7.1"}]
    """)

SHARED = [
    Scenario("netpol-client-egress",
             "Pod np-front/frontend may send only to the cluster DNS (its namespace's egress policy); backend in "
             "np-back admits it, but it never gets out. Diagnosed with --client pod/frontend --client-namespace np-front.",
             "np-back", "backend",
             [*l7.app("backend", "np-back"), FRONTEND,
              netpol("allow-frontend", "np-back", {
                  "podSelector": {"matchLabels": {"app": "backend"}}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "np-front"}},
                                         "podSelector": {"matchLabels": {"app": "frontend"}}}],
                               "ports": [{"port": 8080}]}]}),
              netpol("egress-dns-only", "np-front", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                  "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                  "ports": [{"port": 53, "protocol": "UDP"}]}]})],
             ["network-policy-blocks-egress"], namespaces=["np-front"],
             args=["--client", "pod/frontend", "--client-namespace", "np-front"]),
    Scenario("netpol-not-enforced",
             "ledger's namespace has a default-deny policy, but the cluster runs flannel alone, which does not "
             "enforce NetworkPolicy.",
             "np-legacy", "ledger",
             [*l7.app("ledger", "np-legacy"), netpol("default-deny", "np-legacy", DEFAULT_DENY)],
             ["network-policy-not-enforced"], setup=_flannel),
]
