"""Scenarios with the L7 hop in front of the Service, on a control plane of their own
(cluster "l7": IngressClasses and GatewayClasses are cluster-wide).

The cluster gets the Gateway API standard-channel CRDs from the pinned upstream module
(tests/gateway_api.py), so the apiserver validates every object below. The tests play the
controllers, as they play MetalLB: an ingress-nginx Deployment (kwok runs its pods) with the
IngressClass it serves, an AWS Load Balancer Controller Deployment with class ``alb``, and
Envoy Gateway's GatewayClass ``eg`` with the Gateways' and routes' status conditions and
messages Envoy Gateway writes (internal/gatewayapi: "Route is accepted", "No listeners
included by this parent ref allowed this attachment.", "Backend ref to Service %s/%s not
permitted by any ReferenceGrant.", "TCP Port %d not found on service %s/%s", "No addresses
have been assigned to the Gateway"); the AWS controller's events ("Failed build model due
to unable to find port %s on service %s"). Addresses are loopback: nothing dials them here.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from typing import Any

import gateway_api
from scenarios import NODES, Scenario, deployment, post_event, service, _wait_ready

EG = "gateway.envoyproxy.io/gatewayclass-controller"
GW_API = "gateway.networking.k8s.io/v1"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cond(type_: str, status: str, reason: str, message: str, generation: int = 1) -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": _now(), "observedGeneration": generation}


def patch_status(cp: Any, ns: str, resource: str, name: str, status: dict) -> None:
    args = ["-n", ns] if ns else []
    cp.kubectl(*args, "patch", resource, name, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": status}))


def route_accepted(cp: Any, ns: str, name: str, parent_ns: str, parent: str, *, accepted: tuple = (),
                   resolved: tuple = (), kind: str = "httproute") -> None:
    """What Envoy Gateway writes on a route, per parent."""
    acc = cond("Accepted", *accepted) if accepted else cond("Accepted", "True", "Accepted", "Route is accepted")
    res = cond("ResolvedRefs", *resolved) if resolved else cond(
        "ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route")
    patch_status(cp, ns, kind, name, {"parents": [{
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": parent_ns, "name": parent},
        "controllerName": EG, "conditions": [acc, res]}]})


def ingress_address(cp: Any, ns: str, name: str, ip: str) -> None:
    """What a controller writes once it serves an Ingress."""
    patch_status(cp, ns, "ingress", name, {"loadBalancer": {"ingress": [{"ip": ip}]}})


def ingress(name: str, ns: str, rules: list[tuple[str, str, str, Any]], cls: str | None = "nginx",
            annotations: dict | None = None) -> str:
    """rules: (host, path, service, port) with port an int (number) or a str (name)."""
    by_host: dict[str, list] = {}
    for host, path, svc, port in rules:
        p = {"number": port} if isinstance(port, int) else {"name": port}
        by_host.setdefault(host, []).append({"path": path, "pathType": "Prefix",
                                             "backend": {"service": {"name": svc, "port": p}}})
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": name, "namespace": ns, **({"annotations": annotations} if annotations else {})},
           "spec": {**({"ingressClassName": cls} if cls else {}),
                    "rules": [{"host": h, "http": {"paths": ps}} for h, ps in by_host.items()]}}
    return json.dumps(obj)


def httproute(name: str, ns: str, parent: tuple[str, str], hostnames: list[str],
              rules: list[tuple[str, list[dict]]]) -> str:
    return json.dumps({
        "apiVersion": GW_API, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": ns},
        "spec": {"parentRefs": [{"name": parent[1], "namespace": parent[0]}], "hostnames": hostnames,
                 "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": refs}
                           for path, refs in rules]}})


def app(name: str, ns: str, replicas: int = 2) -> list[str]:
    return [deployment(name, ns, {"app": name}, replicas=replicas), service(name, ns, {"app": name})]


# --- the cluster --------------------------------------------------------------------------

CONTROLLERS = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: ingress-nginx-controller, namespace: ingress-nginx,
               labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}}
    spec:
      replicas: 1
      selector: {matchLabels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}}
      template:
        metadata: {labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}}
        spec:
          containers:
          - name: controller
            image: registry.k8s.io/ingress-nginx/controller:v1.12.1
            args: [/nginx-ingress-controller, --election-id=ingress-nginx-leader,
                   --controller-class=k8s.io/ingress-nginx, --ingress-class=nginx]
            ports: [{name: http, containerPort: 80}, {name: https, containerPort: 443}]
    ---
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: nginx, labels: {app.kubernetes.io/name: ingress-nginx}}
    spec: {controller: k8s.io/ingress-nginx}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: aws-load-balancer-controller, namespace: kube-system,
               labels: {app.kubernetes.io/name: aws-load-balancer-controller}}
    spec:
      replicas: 1
      selector: {matchLabels: {app.kubernetes.io/name: aws-load-balancer-controller}}
      template:
        metadata: {labels: {app.kubernetes.io/name: aws-load-balancer-controller}}
        spec:
          containers:
          - name: controller
            image: public.ecr.aws/eks/aws-load-balancer-controller:v2.11.0
            args: [--cluster-name=l7, --ingress-class=alb]
    ---
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: alb}
    spec: {controller: ingress.k8s.aws/alb}
    ---
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: haproxy}
    spec: {controller: haproxy.org/ingress-controller}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: GatewayClass
    metadata: {name: eg}
    spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: GatewayClass
    metadata: {name: cilium}
    spec: {controllerName: io.cilium/gateway-controller}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: envoy-infra-public, namespace: envoy-gateway-system,
               labels: {app.kubernetes.io/name: envoy, app.kubernetes.io/component: proxy}}
    spec:
      replicas: 1
      selector: {matchLabels: {app.kubernetes.io/name: envoy, gateway.envoyproxy.io/owning-gateway-name: public}}
      template:
        metadata:
          labels: {app.kubernetes.io/name: envoy, app.kubernetes.io/component: proxy,
                   app.kubernetes.io/managed-by: envoy-gateway,
                   gateway.envoyproxy.io/owning-gateway-name: public,
                   gateway.envoyproxy.io/owning-gateway-namespace: infra}
        spec:
          containers:
          - {name: envoy, image: docker.io/envoyproxy/envoy:distroless-v1.33.0}
    """)


def gateway(name: str, cls: str, port: int = 80, hostname: str = "", allowed: dict | None = None) -> str:
    listener = {"name": "http", "port": port, "protocol": "HTTP", **({"hostname": hostname} if hostname else {}),
                "allowedRoutes": {"namespaces": allowed or {"from": "All"}}}
    return json.dumps({"apiVersion": GW_API, "kind": "Gateway", "metadata": {"name": name, "namespace": "infra"},
                       "spec": {"gatewayClassName": cls, "listeners": [listener]}})


GATEWAYS = [
    # public admits routes from namespaces labelled gateway-access=true, for *.shop.example
    gateway("public", "eg", hostname="*.shop.example",
            allowed={"from": "Selector", "selector": {"matchLabels": {"gateway-access": "true"}}}),
    gateway("edge", "eg", port=8080),        # Envoy Gateway never gets it an address
    gateway("internal", "cilium"),           # Cilium is not installed
    gateway("staging", "envoy"),             # no GatewayClass envoy
]


def prepare(cp: Any) -> None:
    gateway_api.install(cp)
    for ns in ("ingress-nginx", "infra", "envoy-gateway-system"):
        cp.create_namespace(ns)
    for name, ip in NODES:
        cp.add_node(name, ip=ip)
    cp.kubectl("apply", "-f", "-", input=CONTROLLERS)
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(GATEWAYS))
    import netpol_scenarios
    cp.kubectl("apply", "-f", "-", input=netpol_scenarios.COREDNS)   # the cluster DNS, for egress rules
    # Envoy Gateway accepts its class and programs Gateway public; edge gets no address.
    patch_status(cp, "", "gatewayclass", "eg", {"conditions": [
        cond("Accepted", "True", "Accepted", "Valid GatewayClass")]})
    patch_status(cp, "infra", "gateway", "public", {
        "addresses": [{"type": "IPAddress", "value": "127.0.0.60"}],
        "conditions": [cond("Accepted", "True", "Accepted", "The Gateway has been scheduled by Envoy Gateway"),
                       cond("Programmed", "True", "Programmed",
                            "Address assigned to the Gateway, 1/1 envoy replicas available")],
        "listeners": [{"name": "http", "attachedRoutes": 0,
                       "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
                                          {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}],
                       "conditions": [cond("Programmed", "True", "Programmed",
                                           "Sending translated listener configuration to the data plane"),
                                      cond("Accepted", "True", "Accepted", "Listener is accepted"),
                                      cond("ResolvedRefs", "True", "ResolvedRefs", "Listener references are resolved")]}]})
    patch_status(cp, "infra", "gateway", "edge", {"conditions": [
        cond("Accepted", "True", "Accepted", "The Gateway has been scheduled by Envoy Gateway"),
        cond("Programmed", "False", "AddressNotAssigned", "No addresses have been assigned to the Gateway")]})


# --- setups (the controllers' part) --------------------------------------------------------

def _served(ip: str, *ingresses: str):
    def setup(cp: Any, sc: Scenario) -> None:
        _wait_ready(cp, sc, 2)
        for name in ingresses:
            ingress_address(cp, sc.namespace, name, ip)
    return setup


def _aws_port_missing(cp: Any, sc: Scenario) -> None:
    _wait_ready(cp, sc, 2)
    post_event(cp, sc.namespace, "Ingress", "api", reason="FailedBuildModel",
               message=f"Failed build model due to unable to find port grpc on service {sc.namespace}/api",
               count=14, span_s=1800, component="ingress")


def _routes(*routes: tuple[str, str, tuple, tuple], ns_labels: dict | None = None, wait: int = 2):
    """routes: (route, parent "ns/name", accepted condition args, resolved condition args)."""
    def setup(cp: Any, sc: Scenario) -> None:
        if ns_labels:
            cp.kubectl("label", "namespace", sc.namespace, "--overwrite",
                       *[f"{k}={v}" for k, v in ns_labels.items()])
        if wait:
            _wait_ready(cp, sc, wait)
        for name, parent, accepted, resolved in routes:
            pns, pname = parent.split("/")
            route_accepted(cp, sc.namespace, name, pns, pname, accepted=accepted, resolved=resolved)
    return setup


def _ref_not_permitted(cp: Any, sc: Scenario) -> None:
    cp.kubectl("label", "namespace", "l7-checkout", "--overwrite", "gateway-access=true")
    _wait_ready(cp, sc, 2)
    route_accepted(cp, "l7-checkout", "pay", "infra", "public", resolved=(
        "False", "RefNotPermitted", "Backend ref to Service l7-billing/payments not permitted by any ReferenceGrant."))


def _crowded_shop(ns: str) -> list[str]:
    """Five healthy apps with their Ingresses: the namespace a broken one hides in."""
    out = []
    for name in ("catalog", "search", "reviews", "checkout", "profile"):
        out += app(name, ns, replicas=1)
        out.append(ingress(name, ns, [(f"{name}.shop.example", "/", name, "http")]))
    return out


SCENARIOS = [
    Scenario("l7-ingress-healthy",
             "Service web behind Ingress web (class nginx, port http) that ingress-nginx serves at 127.0.0.40.",
             "l7-web", "web", [*app("web", "l7-web"), ingress("web", "l7-web", [("www.shop.example", "/", "web", "http")])],
             [], setup=_served("127.0.0.40", "web"), cluster="l7"),
    Scenario("l7-ingress-wrong-port",
             "Namespace of six apps behind ingress-nginx; Ingress cart names port 8443, which Service cart "
             "(80 → 8080) does not have, so ingress-nginx answers 503.",
             "l7-store", "cart", [*_crowded_shop("l7-store"), *app("cart", "l7-store"),
                                   ingress("cart", "l7-store", [("cart.shop.example", "/", "cart", 8443)])],
             ["ingress-backend-port-not-found"], setup=_served("127.0.0.41", "cart"), cluster="l7"),
    Scenario("l7-ingress-other-namespace",
             "Ingress catalog in namespace l7-front names Service catalog, which lives in l7-catalog.",
             "l7-catalog", "catalog", [*app("catalog", "l7-catalog"),
                                        ingress("catalog", "l7-front", [("catalog.shop.example", "/", "catalog", "http")])],
             ["ingress-backend-not-found"], namespaces=["l7-front"], cluster="l7"),
    Scenario("l7-ingress-unclaimed",
             "Ingress blog names no class, and ingress-nginx runs without --watch-ingress-without-class: "
             "nobody serves it.",
             "l7-blog", "blog", [*app("blog", "l7-blog"),
                                  ingress("blog", "l7-blog", [("blog.shop.example", "/", "blog", "http")], cls=None)],
             ["ingress-class-unclaimed"], cluster="l7"),
    Scenario("l7-ingress-aws-rejected",
             "Ingress api (class alb) names port grpc, which Service api lacks; the AWS Load Balancer "
             "Controller reports FailedBuildModel.",
             "l7-aws", "api", [*app("api", "l7-aws"),
                                ingress("api", "l7-aws", [("api.shop.example", "/", "api", "grpc")], cls="alb")],
             ["ingress-backend-port-not-found", "ingress-controller-rejected"], setup=_aws_port_missing,
             cluster="l7", translation="aws-lbc-port-not-found"),
    Scenario("l7-route-healthy",
             "HTTPRoute orders in a namespace Gateway infra/public admits, accepted by Envoy Gateway.",
             "l7-orders", "orders", [*app("orders", "l7-orders"),
                                      httproute("orders", "l7-orders", ("infra", "public"), ["orders.shop.example"],
                                                [("/", [{"name": "orders", "port": 80}])])],
             [], setup=_routes(("orders", "infra/public", (), ()), ns_labels={"gateway-access": "true"}),
             cluster="l7"),
    Scenario("l7-route-not-allowed",
             "HTTPRoute news in namespace l7-news, which lacks the label gateway-access=true that Gateway "
             "infra/public's listener requires.",
             "l7-news", "news", [*app("news", "l7-news"),
                                  httproute("news", "l7-news", ("infra", "public"), ["news.shop.example"],
                                            [("/", [{"name": "news", "port": 80}])])],
             ["route-not-accepted"],
             setup=_routes(("news", "infra/public", ("False", "NotAllowedByListeners",
                                                     "No listeners included by this parent ref allowed this attachment."), ())),
             cluster="l7"),
    Scenario("l7-route-backend-typo",
             "Crowded namespace: HTTPRoute inventory sends /stock to Service inventroy (typo); Service "
             "inventory exists next to four others.",
             "l7-stock", "inventory",
             [*app("inventory", "l7-stock"), *[m for n in ("pricing", "supplier", "warehouse", "shipping")
                                               for m in app(n, "l7-stock", replicas=1)],
              httproute("inventory", "l7-stock", ("infra", "public"), ["stock.shop.example"],
                        [("/stock", [{"name": "inventroy", "port": 80}])]),
              httproute("pricing", "l7-stock", ("infra", "public"), ["stock.shop.example"],
                        [("/prices", [{"name": "pricing", "port": 80}])])],
             ["route-backend-not-found"],
             setup=_routes(("inventory", "infra/public", (), ("False", "BackendNotFound", "Service l7-stock/inventroy not found")),
                           ("pricing", "infra/public", (), ()), ns_labels={"gateway-access": "true"}, wait=6),
             cluster="l7"),
    Scenario("l7-route-missing-gateway",
             "HTTPRoute tickets names Gateway infra/pubic (a typo of public); no Gateway of that name exists, "
             "so no controller ever writes the route's status.",
             "l7-tickets", "tickets", [*app("tickets", "l7-tickets"),
                                        httproute("tickets", "l7-tickets", ("infra", "pubic"), ["tickets.shop.example"],
                                                  [("/", [{"name": "tickets", "port": 80}])])],
             ["route-not-accepted"], cluster="l7"),
    Scenario("l7-route-ref-not-permitted",
             "HTTPRoute pay in l7-checkout sends /pay to Service payments in l7-billing; the ReferenceGrant "
             "there admits routes from l7-legacy only.",
             "l7-billing", "payments",
             [*app("payments", "l7-billing"),
              httproute("pay", "l7-checkout", ("infra", "public"), ["pay.shop.example"],
                        [("/pay", [{"name": "payments", "namespace": "l7-billing", "port": 80}])]),
              json.dumps({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                          "metadata": {"name": "routes-to-payments", "namespace": "l7-billing"},
                          "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                             "namespace": "l7-legacy"}],
                                   "to": [{"group": "", "kind": "Service", "name": "payments"}]}})],
             ["route-ref-not-permitted"], namespaces=["l7-checkout"],
             setup=_ref_not_permitted, cluster="l7"),
    Scenario("l7-route-wrong-port",
             "HTTPRoute reports sends traffic to Service reports port 8080, its targetPort; the Service's "
             "port is 80.",
             "l7-reports", "reports", [*app("reports", "l7-reports"),
                                        httproute("reports", "l7-reports", ("infra", "edge"), [],
                                                  [("/", [{"name": "reports", "port": 8080}])])],
             ["route-backend-port-not-found", "gateway-not-programmed"],
             setup=_routes(("reports", "infra/edge", (), ("False", "PortNotFound",
                                                          "TCP Port 8080 not found on service l7-reports/reports"))),
             cluster="l7"),
]


def _class_silent(cp: Any, sc: Scenario) -> None:
    """Cilium is not installed: GatewayClass cilium keeps the apiserver's default status
    (Accepted Unknown, "Waiting for controller"); wait until it is past svcdoctor's grace."""
    _wait_ready(cp, sc, 2)
    made = json.loads(cp.kubectl("get", "gatewayclass", "cilium", "-o", "json").stdout)["metadata"]["creationTimestamp"]
    born = dt.datetime.fromisoformat(made.replace("Z", "+00:00"))
    cp.wait_until(lambda: (dt.datetime.now(dt.timezone.utc) - born).total_seconds() > 62, timeout=90,
                  what="GatewayClass cilium older than the grace")


SCENARIOS += [
    Scenario("l7-gateway-class-missing",
             "HTTPRoute docs attaches to Gateway infra/staging, whose GatewayClass envoy does not exist "
             "(the installed class is eg).",
             "l7-docs", "docs", [*app("docs", "l7-docs"),
                                  httproute("docs", "l7-docs", ("infra", "staging"), ["docs.shop.example"],
                                            [("/", [{"name": "docs", "port": 80}])])],
             ["gateway-not-programmed"], cluster="l7"),
    # Last of the cluster: it waits for GatewayClass cilium (created with the cluster) to age.
    Scenario("l7-gateway-no-controller",
             "HTTPRoute media attaches to Gateway infra/internal of GatewayClass cilium; Cilium is not "
             "installed, so nobody accepts the class or programs the Gateway.",
             "l7-media", "media", [*app("media", "l7-media"),
                                    httproute("media", "l7-media", ("infra", "internal"), ["media.shop.example"],
                                              [("/", [{"name": "media", "port": 80}])])],
             ["gateway-not-programmed"], setup=_class_silent, cluster="l7"),
]


# Which scenario each new finding ID is shown by (also checked by tests/test_l7.py).
SHOWN_BY = {
    "ingress-backend-port-not-found": "l7-ingress-wrong-port",
    "ingress-backend-not-found": "l7-ingress-other-namespace",
    "ingress-class-unclaimed": "l7-ingress-unclaimed",
    "ingress-controller-rejected": "l7-ingress-aws-rejected",
    "route-not-accepted": "l7-route-not-allowed",  # and l7-route-missing-gateway
    "route-backend-not-found": "l7-route-backend-typo",
    "route-ref-not-permitted": "l7-route-ref-not-permitted",
    "route-backend-port-not-found": "l7-route-wrong-port",
    "gateway-not-programmed": "l7-route-wrong-port",
}
