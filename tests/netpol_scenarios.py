"""NetworkPolicy scenarios. In cluster "l7" (tests/l7_scenarios.py: ingress-nginx played by
the test, in namespace ingress-nginx) the policies stand between the controller and the
pods; the apiserver stores them with its defaults (policyTypes filled in). The shared
control plane gets flannel's DaemonSet in kube-system for the "not enforced" case.
Cluster "policy-apis" serves the other policy APIs: AdminNetworkPolicy's CRDs as
published (sigs.k8s.io/network-policy-api), Cilium's and Calico's kinds as CRDs of the
same group, version, kind and scope."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import l7_scenarios as l7
import upstream_crds
from scenarios import Scenario, _wait_ready, service

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

KUBE_DNS = service("kube-dns", "kube-system", {"k8s-app": "kube-dns"},
                   ports="[{name: dns, port: 53, targetPort: 53, protocol: UDP}, "
                         "{name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}]")


def _dns_service_ip_rule(cp: Any, sc: Scenario) -> None:
    """np-ledger admits port 53 to the kube-dns Service IP only: the classic mistake."""
    ip = json.loads(cp.kubectl("-n", "kube-system", "get", "svc", "kube-dns", "-o", "json").stdout)["spec"]["clusterIP"]
    cp.kubectl("apply", "-f", "-", input=netpol("egress-dns-by-service-ip", "np-ledger", {
        "podSelector": {"matchLabels": {"app": "ledger"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": f"{ip}/32"}}], "ports": [{"port": 53, "protocol": "UDP"}]}]}))
    _wait_ready(cp, sc, 2)


DNS_TARGET = Scenario(
    "netpol-dns-target",
    "Diagnosing the cluster DNS Service itself: np-batch denies all egress; np-ledger admits port 53 only to "
    "the kube-dns Service IP (policies see the pods after DNAT); np-web admits the DNS pods correctly.",
    "kube-system", "kube-dns",
    [KUBE_DNS, netpol("deny-egress", "np-batch", {"podSelector": {}, "policyTypes": ["Egress"]}),
     netpol("egress-dns", "np-web", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
         "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})],
    ["network-policy-blocks-dns"], namespaces=["np-batch", "np-ledger", "np-web"],
    setup=_dns_service_ip_rule, cluster="l7")
SCENARIOS.append(DNS_TARGET)


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


# --- cluster "policy-apis" ---------------------------------------------------------------------

NETWORK_POLICY_API = ("sigs.k8s.io/network-policy-api", "v0.1.1")   # AdminNetworkPolicy v1alpha1
ADMIN_CRDS = ["adminnetworkpolicies", "baselineadminnetworkpolicies"]


def _crd(group: str, kind: str, plural: str, scope: str, version: str) -> str:
    """A CRD serving ``kind`` as the plugin's own does (group, version, names, scope); the
    schema keeps every field, as svcdoctor only reads what the server returns."""
    return json.dumps({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                       "metadata": {"name": f"{plural}.{group}"},
                       "spec": {"group": group, "scope": scope,
                                "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                                          "listKind": f"{kind}List"},
                                "versions": [{"name": version, "served": True, "storage": True,
                                              "schema": {"openAPIV3Schema": {
                                                  "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})


PLUGIN_CRDS = [("cilium.io", "CiliumNetworkPolicy", "ciliumnetworkpolicies", "Namespaced", "v2"),
               ("cilium.io", "CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", "Cluster", "v2"),
               ("crd.projectcalico.org", "NetworkPolicy", "networkpolicies", "Namespaced", "v1"),
               ("crd.projectcalico.org", "GlobalNetworkPolicy", "globalnetworkpolicies", "Cluster", "v1")]


def prepare_policy_apis(cp: Any) -> None:
    module, version = NETWORK_POLICY_API
    files = upstream_crds.fetch(module, version, "config/crd", [f"policy.networking.k8s.io_{c}.yaml" for c in ADMIN_CRDS],
                                upstream_crds.cache_root() / f"network-policy-api-{version}" / "crds")
    upstream_crds.install(cp, files, [f"{c}.policy.networking.k8s.io" for c in ADMIN_CRDS], "adminnetworkpolicies")
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(_crd(*c) for c in PLUGIN_CRDS))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s",
               *[f"crd/{plural}.{group}" for group, _k, plural, _s, _v in PLUGIN_CRDS])
    cp.wait_until(lambda: cp.kubectl("get", "ciliumnetworkpolicies.cilium.io,networkpolicies.crd.projectcalico.org",
                                     "-A", check=False).returncode == 0, timeout=30, what="plugin policy kinds served")


def _obj(api: str, kind: str, name: str, ns: str | None, spec: dict) -> str:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return json.dumps({"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec})


def _other_apps(ns: str) -> list[str]:
    """Crowding: more apps, each with its own Cilium policy that selects only it."""
    out = []
    for other in ("ledger", "refunds", "fraud", "notify"):
        out += l7.app(other, ns)
        out.append(_obj("cilium.io/v2", "CiliumNetworkPolicy", f"{other}-l7", ns, {
            "endpointSelector": {"matchLabels": {"app": other}},
            "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "gateway"}}]}]}))
    return out


POLICY_APIS = Scenario(
    "netpol-other-policy-apis",
    "pay is admitted by its NetworkPolicy, but Cilium, Calico and AdminNetworkPolicy policies select it too "
    "(a Calico NetworkPolicy even shares the Kubernetes one's name); svcdoctor names them as not evaluated. "
    "Four other apps' Cilium policies, and a Calico policy for another app, select nothing of pay's.",
    "np-pay", "pay",
    [*l7.app("pay", "np-pay"), *_other_apps("np-pay"),
     netpol("allow-pay", "np-pay", {"podSelector": {"matchLabels": {"app": "pay"}}, "policyTypes": ["Ingress"],
                                    "ingress": [{"ports": [{"port": 8080}]}]}),
     _obj("cilium.io/v2", "CiliumNetworkPolicy", "pay-l7", "np-pay", {
         "endpointSelector": {"matchLabels": {"k8s:app": "pay"}},
         "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "checkout"}}],
                      "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}),
     _obj("cilium.io/v2", "CiliumClusterwideNetworkPolicy", "lockdown-np-pay", None, {
         "endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "np-pay"}},
         "ingress": [{"fromEntities": ["cluster"]}]}),
     _obj("crd.projectcalico.org/v1", "NetworkPolicy", "allow-pay", "np-pay", {
         "selector": "app == 'pay'", "types": ["Ingress"],
         "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [8080]}}]}),
     _obj("crd.projectcalico.org/v1", "NetworkPolicy", "refunds-only", "np-pay", {
         "selector": "app == 'refunds'", "types": ["Ingress"], "ingress": [{"action": "Allow"}]}),
     _obj("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", "tenant-isolation", None, {
         "priority": 10, "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "np-pay"}}},
         "ingress": [{"name": "deny-other-tenants", "action": "Deny",
                      "from": [{"namespaces": {"namespaceSelector": {"matchLabels": {"tenant": "other"}}}}]}]}),
     _obj("policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy", "default", None, {
         "subject": {"namespaces": {}},
         "ingress": [{"name": "default-deny", "action": "Deny", "from": [{"namespaces": {"namespaceSelector": {}}}]}]})],
    [], cluster="policy-apis")
