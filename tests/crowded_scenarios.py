"""Crowded namespaces: the scenarios where ranking, grouping or "closest" logic matters.

Real namespaces hold dozens of apps labelled ``app=<name>``. A near miss picked by order
instead of by closeness sends the Service's traffic to another application, so every
scenario here puts its Service among at least 15 Deployments (1 replica each unless the
story needs more). What a correct diagnosis must say (which app a fix may name, or that
no fix command may be offered) is written in tests/test_crowded.py, from the scenario.

They run on a control plane of their own (cluster "crowded"): a selector that matches no
pod in its namespace makes svcdoctor look for the same labels in every namespace, and the
shared control plane's scenarios carry app=web, app=payments and the like. Within this
cluster each Service's selector is unique to its scenario for the same reason.
"""

from __future__ import annotations

import json
from typing import Any

from scenarios import Scenario, deployment, service

# The rest of a busy shop: 16 apps none of the scenarios' Services selects.
CROWD = ["auth", "cart", "catalog", "chat", "gateway", "inventory", "ledger", "media",
         "notifications", "order-history", "profile", "recommendations", "reviews", "search",
         "search-indexer", "shipping"]

GATEWAY_PORTS = ("[{name: http, containerPort: 8080}, {name: https, containerPort: 8443}, "
                 "{name: grpc-api, containerPort: 9090}, {name: grpc-web, containerPort: 9091}, "
                 "{name: metrics, containerPort: 9100}, {name: admin, containerPort: 9901}, "
                 "{name: health, containerPort: 8081}, {name: syslog, containerPort: 5140, protocol: UDP}]")


def crowd(ns: str, apps: list[str], labels: dict[str, dict[str, str]] | None = None) -> list[str]:
    """One 1-replica Deployment per app, labelled app=<name> (plus ``labels[name]``)."""
    extra = labels or {}
    return [deployment(a, ns, {"app": a, **extra.get(a, {})}, replicas=1) for a in apps]


def _deployments_ready(cp: Any, sc: Scenario) -> bool:
    """Every Deployment of the scenario has all its replicas ready (not just some pods)."""
    for ns in [sc.namespace, *sc.namespaces]:
        items = json.loads(cp.kubectl("-n", ns, "get", "deployments", "-o", "json").stdout)["items"]
        if not items or any((d.get("status") or {}).get("readyReplicas") != d["spec"]["replicas"]
                            for d in items):
            return False
    return True


def _crowded(name: str, description: str, ns: str, svc: str, manifests: list[str],
             expect: list[str], namespaces: list[str] | None = None) -> Scenario:
    return Scenario(name, description, ns, svc, manifests, expect, namespaces=namespaces or [],
                    settled=_deployments_ready, cluster="crowded")


# A bare pod with a copy of checkout's labels, as `kubectl run --labels` leaves behind.
DEBUG_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: checkout-debug, namespace: crowded-debug, labels: {app: checkout, tier: debug}}
spec:
  containers:
  - {name: debug, image: "busybox:1.36", command: [sleep, infinity]}
"""

BACKEND_TIER = {a: {"tier": "backend"} for a in ("cart", "catalog", "inventory", "shipping")}

CROWDED: list[Scenario] = [
    _crowded("crowded-selector-typo",
             "Among 19 apps, Service checkout selects app=chekout (a typo); the pods carry app=checkout, "
             "and checkout-worker, chat and cart look alike.",
             "crowded-typo", "checkout",
             crowd("crowded-typo", CROWD + ["checkout", "checkout-worker", "orders"])
             + [service("checkout", "crowded-typo", {"app": "chekout"})],
             ["selector-matches-no-pods"]),
    _crowded("crowded-selector-renamed",
             "Among 19 apps, Service orders still selects app=orders-v1; the app was renamed and its pods "
             "carry app=orders, beside orders-worker and order-history.",
             "crowded-rename", "orders",
             crowd("crowded-rename", CROWD + ["orders", "orders-worker", "checkout"])
             + [service("orders", "crowded-rename", {"app": "orders-v1"})],
             ["selector-matches-no-pods"]),
    _crowded("crowded-selector-prefix",
             "Among 19 apps, Service web-frontend selects app=web, a prefix of both web-frontend and web-backend.",
             "crowded-prefix", "web-frontend",
             crowd("crowded-prefix", CROWD + ["web-frontend", "web-backend", "checkout"])
             + [service("web-frontend", "crowded-prefix", {"app": "web"})],
             ["selector-matches-no-pods"]),
    _crowded("crowded-selector-component",
             "Among 17 apps, Service loyalty selects app=loyalty; no loyalty pod runs, only loyalty-ui "
             "(another component, not a rename).",
             "crowded-component", "loyalty",
             crowd("crowded-component", CROWD + ["loyalty-ui"])
             + [service("loyalty", "crowded-component", {"app": "loyalty"})],
             ["selector-matches-no-pods"]),
    _crowded("crowded-selector-copied",
             "Among 18 apps, Service checkout still selects app=cart-v1: its manifest was copied from "
             "cart's. The value is closest to cart, the Service's name points at checkout.",
             "crowded-copied", "checkout",
             crowd("crowded-copied", CROWD + ["checkout", "checkout-worker"])
             + [service("checkout", "crowded-copied", {"app": "cart-v1"})],
             ["selector-matches-no-pods"]),
    _crowded("crowded-selector-debug-pod",
             "Among 17 apps, Service checkout selects app=chekout,tier=web; the checkout pods carry "
             "app=checkout and no tier, and a debug pod someone started carries app=checkout,tier=debug.",
             "crowded-debug", "checkout",
             crowd("crowded-debug", CROWD + ["checkout"])
             + [DEBUG_POD, service("checkout", "crowded-debug", {"app": "chekout", "tier": "web"})],
             ["selector-matches-no-pods"]),
    _crowded("crowded-target-port",
             "Among 17 apps, api-gateway's pods declare 8 named ports; the Service's targetPorts are htpp "
             "(a typo of http), grpc (grpc-api and grpc-web are equally close) and sylog on TCP "
             "(syslog is declared only as UDP).",
             "crowded-ports", "api-gateway",
             crowd("crowded-ports", CROWD)
             + [deployment("api-gateway", "crowded-ports", {"app": "api-gateway"}, replicas=2,
                           ports=GATEWAY_PORTS),
                service("api-gateway", "crowded-ports", {"app": "api-gateway"},
                        ports="[{name: http, port: 80, targetPort: htpp}, "
                              "{name: grpc, port: 9090, targetPort: grpc}, "
                              "{name: syslog, port: 514, targetPort: sylog}]")],
             ["target-port-name-not-found"] * 3),
    _crowded("crowded-selector-too-broad",
             "Among 18 apps, Service checkout selects team=checkout: Deployment checkout (2 pods) and "
             "Deployment checkout-worker (3 pods) both carry it.",
             "crowded-broad", "checkout",
             crowd("crowded-broad", CROWD)
             + [deployment("checkout", "crowded-broad", {"app": "checkout", "team": "checkout"}, replicas=2),
                deployment("checkout-worker", "crowded-broad", {"app": "checkout-worker", "team": "checkout"},
                           replicas=3),
                service("checkout", "crowded-broad", {"team": "checkout"})],
             ["selector-too-broad"]),
    _crowded("crowded-selector-too-broad-unclear",
             "Among 16 apps, Service backend selects tier=backend, which cart, catalog, inventory and "
             "shipping (1 pod each) all carry.",
             "crowded-tier", "backend",
             crowd("crowded-tier", CROWD, BACKEND_TIER)
             + [service("backend", "crowded-tier", {"tier": "backend"})],
             ["selector-too-broad"]),
    _crowded("crowded-pods-in-other-namespace",
             "Service payments in crowded-storefront (18 apps, among them payments-ui) selects app=payments; "
             "pods with app=payments run in crowded-payments (Deployment payments, 2 pods) and in "
             "crowded-loadtest (Deployment payments-loadtest, 3 pods).",
             "crowded-storefront", "payments",
             crowd("crowded-storefront", CROWD + ["payments-ui", "checkout"])
             + [deployment("payments", "crowded-payments", {"app": "payments"}, replicas=2),
                deployment("payments-worker", "crowded-payments", {"app": "payments-worker"}, replicas=1),
                deployment("payments-loadtest", "crowded-loadtest", {"app": "payments"}, replicas=3),
                service("payments", "crowded-storefront", {"app": "payments"})],
             ["selector-pods-in-other-namespace", "selector-matches-no-pods"],
             namespaces=["crowded-payments", "crowded-loadtest"]),
]


def prepare_crowded(cp: Any) -> None:
    """Nothing cluster-wide: the cluster is separate only so that cross-namespace
    lookups see no other scenario's pods."""


# --- a crowded cluster: 200 nodes -----------------------------------------------------------
# Where node logic matters (which nodes hold endpoints, which of them is down), 3 nodes hide
# mistakes that 200 show: the report must name exactly the node that is down, among 200.

FLEET = [f"pool-{i:03d}" for i in range(197)]  # with node-a, -b, -c: 200 nodes
GPU_NODES = ["pool-017", "pool-063", "pool-101", "pool-142"]  # the only nodes the app may use
DOWN = "pool-063"


def prepare_fleet(cp: Any) -> None:
    """197 kwok nodes (200 with node-a, -b, -c) on loopback addresses (127.0.1.x, 127.0.2.x), four labelled pool=gpu."""
    for i, name in enumerate(FLEET):
        labels = {"pool": "gpu"} if name in GPU_NODES else {"pool": "general"}
        cp.add_node(name, ip=f"127.0.{1 + i // 100}.{10 + i % 100}", labels=labels, wait=False)
    for name in FLEET:
        cp.wait_for_node(name, timeout=120)


def _one_gpu_node_down(cp: Any, sc: Scenario) -> None:
    from scenarios import pods, ready

    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 4 and all(ready(p) for p in pods(cp, sc.namespace)),
                  timeout=120, what="4 ready pods, one per gpu node")
    cp.set_node_ready(DOWN, False, how="heartbeat", wait=True)
    cp.wait_until(lambda: sum(not ready(p) for p in pods(cp, sc.namespace)) == 1, timeout=120,
                  what=f"the pod on {DOWN} marked not ready by the node-lifecycle controller")


ONE_PER_NODE = """\
nodeSelector: {pool: gpu}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - labelSelector: {matchLabels: {app: ledger-api}}
      topologyKey: kubernetes.io/hostname
"""

FLEET_SCENARIOS = [
    Scenario("crowded-node-notready",
             f"200 nodes; ledger-api runs one pod on each of the 4 gpu nodes; {DOWN}'s kubelet stopped "
             "reporting, so 1 of 4 endpoints sits on a NotReady node.",
             "fleet", "ledger-api",
             [deployment("ledger-api", "fleet", {"app": "ledger-api"}, replicas=4, extra_pod=ONE_PER_NODE),
              service("ledger-api", "fleet", {"app": "ledger-api"}, extra="type: NodePort\n")],
             ["endpoints-on-notready-node", "some-endpoints-not-ready"],
             setup=_one_gpu_node_down, cluster="fleet"),
]
