"""Scenarios reproduced on the real control plane: the source of svcdoctor/recordings/ and of the
control-plane tests. Each one creates ordinary objects through the API (plus, where a
kubelet would, the events it would post), waits for the controllers, and states which
findings a correct diagnosis must report — written from the scenario, not from svcdoctor's
output.

The test labels (``svcdoctor.test/*``) are knobs of the harness's kwok stages; see
tests/controlplane.py.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

NODES = [("node-a", "127.0.0.11"), ("node-b", "127.0.0.12"), ("node-c", "127.0.0.13")]


def deployment(name: str, ns: str, labels: dict[str, str], *, replicas: int = 2,
               ports: str = "[{name: http, containerPort: 8080}]", image: str = "nginx:1.27",
               probe: str = "{httpGet: {path: /healthz, port: http}}", extra_pod: str = "",
               pod_labels: dict[str, str] | None = None, resources: str = "") -> str:
    lbl = json.dumps(labels)
    plbl = json.dumps({**labels, **(pod_labels or {})})
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}, namespace: {ns}, labels: {lbl}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {lbl}}}
          template:
            metadata: {{labels: {plbl}}}
            spec:
              containers:
              - name: {name.split('-')[0]}
                image: {image}
                ports: {ports}
                readinessProbe: {probe}
        """) + (f"        resources: {resources}\n" if resources else "") \
           + textwrap.indent(textwrap.dedent(extra_pod), "      ")


def service(name: str, ns: str, selector: dict[str, str] | None,
            ports: str = "[{name: http, port: 80, targetPort: http}]", extra: str = "") -> str:
    sel = f"selector: {json.dumps(selector)}" if selector else ""
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}, namespace: {ns}}}
        spec:
          {sel}
          ports: {ports}
        """) + textwrap.indent(textwrap.dedent(extra), "  ")


def manual_slice(name: str, ns: str, service_label: str, address: str) -> str:
    """An EndpointSlice written by hand for a selector-less Service (postgres on 5432)."""
    return textwrap.dedent(f"""\
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: {name}
          namespace: {ns}
          labels: {{kubernetes.io/service-name: {service_label},
                   endpointslice.kubernetes.io/managed-by: staff}}
        addressType: IPv4
        ports: [{{name: postgres, port: 5432, protocol: TCP}}]
        endpoints: [{{addresses: [{address}], conditions: {{ready: true}}}}]
        """)


def post_event(cp: Any, ns: str, kind: str, name: str, *, reason: str, message: str, count: int,
               span_s: int, component: str, type_: str = "Warning", host: str = "", ago_s: int = 0) -> None:
    """Post the core/v1 Event a component would (kwok runs no kubelet and no cloud controller)."""
    resource = {"Pod": "pod", "Service": "service", "Ingress": "ingress"}[kind]
    obj = json.loads(cp.kubectl("-n", ns, "get", resource, name, "-o", "json").stdout)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=ago_s)
    first = now - dt.timedelta(seconds=span_s)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    involved = {"apiVersion": obj.get("apiVersion", "v1"), "kind": kind, "name": name, "namespace": ns,
                "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"]}
    if kind == "Pod":
        involved["fieldPath"] = f"spec.containers{{{obj['spec']['containers'][0]['name']}}}"
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:16]}", "namespace": ns},
        "involvedObject": involved, "reason": reason, "message": message, "type": type_, "count": count,
        "source": {"component": component, **({"host": host} if host else {})},
        "firstTimestamp": stamp(first), "lastTimestamp": stamp(now),
        "reportingComponent": component, "reportingInstance": host,
    }
    cp.kubectl("create", "-f", "-", input=json.dumps(event))


def kubelet_event(cp: Any, ns: str, pod: str, *, reason: str, message: str, count: int,
                  span_s: int, type_: str = "Warning") -> None:
    obj = json.loads(cp.kubectl("-n", ns, "get", "pod", pod, "-o", "json").stdout)
    post_event(cp, ns, "Pod", pod, reason=reason, message=message, count=count, span_s=span_s,
               component="kubelet", type_=type_, host=obj["spec"].get("nodeName", ""))


def pods(cp: Any, ns: str, selector: str = "") -> list[dict]:
    args = ["-n", ns, "get", "pods", "-o", "json"] + (["-l", selector] if selector else [])
    return json.loads(cp.kubectl(*args).stdout)["items"]


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


@dataclass
class Scenario:
    name: str
    description: str
    namespace: str
    service: str
    manifests: list[str]
    expect: list[str]                       # finding IDs (all severities but could-not-verify)
    namespaces: list[str] = field(default_factory=list)   # extra namespaces to create
    setup: Callable[[Any, "Scenario"], None] | None = None
    settled: Callable[[Any, "Scenario"], bool] | None = None
    translation: str | None = None          # which translation (lb_errors / metallb_causes) applies
    # "" = the shared control plane. Scenarios whose objects are cluster-wide (MetalLB's
    # CRDs and pools, node labels) get a control plane of their own, named here and
    # prepared by CLUSTERS[cluster] (scenarios naming the same cluster share it).
    cluster: str = ""
    args: list[str] = field(default_factory=list)   # extra diagnose/record options (--client ...)


def _slices_settled(cp: Any, sc: Scenario) -> bool:
    """Every running pod the Service selects is published in its EndpointSlices,
    with the readiness the pod has now."""
    svc = json.loads(cp.kubectl("-n", sc.namespace, "get", "svc", sc.service, "-o", "json").stdout)
    selector = (svc.get("spec") or {}).get("selector")
    slices = json.loads(cp.kubectl("-n", sc.namespace, "get", "endpointslices", "-l",
                                   f"kubernetes.io/service-name={sc.service}", "-o", "json").stdout)["items"]
    published = {e.get("targetRef", {}).get("name"): e.get("conditions", {})
                 for s in slices for e in s.get("endpoints") or []}
    if not selector:
        return True
    sel = ",".join(f"{k}={v}" for k, v in selector.items())
    for p in pods(cp, sc.namespace, sel):
        if p.get("status", {}).get("phase") in ("Succeeded", "Failed") or not p["spec"].get("nodeName"):
            continue  # finished or unscheduled pods are never published
        if not p.get("status", {}).get("podIP"):
            return False
        cond = published.get(p["metadata"]["name"])
        if cond is None or bool(cond.get("ready")) != (ready(p) and not p["metadata"].get("deletionTimestamp")):
            return False
    return True


def _all_pods_running(cp: Any, sc: Scenario) -> bool:
    items = [p for ns in [sc.namespace, *sc.namespaces] for p in pods(cp, ns)]
    return bool(items) and all(p.get("status", {}).get("phase") == "Running" for p in items)


# --- setups that need more than kubectl apply -------------------------------------------

def _readiness_failing(cp: Any, sc: Scenario) -> None:
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 2 and _all_pods_running(cp, sc),
                  timeout=60, what="pods running")
    for i, p in enumerate(pods(cp, sc.namespace)):
        kubelet_event(cp, sc.namespace, p["metadata"]["name"], reason="Unhealthy",
                      message="Readiness probe failed: HTTP probe failed with statuscode: 503",
                      count=41 + i, span_s=620)


def _one_not_ready(cp: Any, sc: Scenario) -> None:
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 3
                  and all(ready(p) for p in pods(cp, sc.namespace)), timeout=60, what="3 ready pods")
    victim = sorted(p["metadata"]["name"] for p in pods(cp, sc.namespace))[0]
    cp.kubectl("-n", sc.namespace, "label", "pod", victim, "svcdoctor.test/ready=false")
    kubelet_event(cp, sc.namespace, victim, reason="Unhealthy",
                  message='Readiness probe failed: Get "http://10.244.0.7:8080/ready": '
                          "dial tcp 10.244.0.7:8080: connect: connection refused",
                  count=9, span_s=300)
    cp.wait_until(lambda: any(not ready(p) for p in pods(cp, sc.namespace)), timeout=60,
                  what="one pod not ready")


def _scale_to_zero_held(cp: Any, sc: Scenario) -> None:
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 2
                  and all(ready(p) for p in pods(cp, sc.namespace)), timeout=60, what="2 ready pods")
    cp.kubectl("-n", sc.namespace, "scale", "deployment", "orders", "--replicas=0")
    cp.wait_until(lambda: all(p["metadata"].get("deletionTimestamp") for p in pods(cp, sc.namespace)),
                  timeout=60, what="pods terminating")


def _node_goes_down(cp: Any, sc: Scenario) -> None:
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 2
                  and all(ready(p) for p in pods(cp, sc.namespace)), timeout=60, what="2 ready pods")
    cp.set_node_ready("node-d", False, how="heartbeat", wait=True)
    cp.wait_until(lambda: not any(ready(p) for p in pods(cp, sc.namespace)), timeout=120,
                  what="pods on node-d marked not ready by the node-lifecycle controller")


def _add_node_d(cp: Any) -> None:
    try:
        cp.get_node("node-d")
    except Exception:
        cp.add_node("node-d", ip="127.0.0.14")
        cp.wait_for_node("node-d")


SCENARIOS: list[Scenario] = [
    Scenario("healthy-clusterip", "Healthy ClusterIP Service: 3 ready pods, named targetPort.",
             "shop", "web",
             [deployment("web", "shop", {"app": "web"}, replicas=3),
              service("web", "shop", {"app": "web"})], []),
    Scenario("healthy-nodeport-multiport",
             "Healthy NodePort Service with two ports (named and numeric targetPort).",
             "api", "api",
             [deployment("api", "api", {"app": "api"},
                         ports="[{name: http, containerPort: 8080}, {name: grpc, containerPort: 9090}]"),
              service("api", "api", {"app": "api"},
                      ports="[{name: http, port: 80, targetPort: http}, "
                            "{name: grpc, port: 9090, targetPort: 9090}]",
                      extra="type: NodePort\n")], []),
    Scenario("selector-typo", "Selector typo: the Service selects app=web-api, the pods carry app=web.",
             "shop", "web-api",
             [deployment("web", "shop", {"app": "web"}, replicas=3),
              service("web-api", "shop", {"app": "web-api"})],
             ["selector-matches-no-pods"]),
    Scenario("selector-wrong-key",
             "Selector uses app=checkout while the pods carry app.kubernetes.io/name=checkout.",
             "checkout", "checkout",
             [deployment("checkout", "checkout", {"app.kubernetes.io/name": "checkout"}),
              service("checkout", "checkout", {"app": "checkout"})],
             ["selector-matches-no-pods"]),
    Scenario("pods-in-other-namespace",
             "The Service is in namespace frontend, the pods it selects run in namespace backend.",
             "frontend", "payments",
             [deployment("payments", "backend", {"app": "payments"}),
              service("payments", "frontend", {"app": "payments"})],
             ["selector-pods-in-other-namespace", "selector-matches-no-pods"],
             namespaces=["backend"]),
    Scenario("no-selector-mislinked",
             "Selector-less Service whose manual EndpointSlice is labelled for another name.",
             "data", "legacy-db",
             [service("legacy-db", "data", None, ports="[{name: postgres, port: 5432}]"),
              manual_slice("legacy-db-1", "data", "legacy-database", "192.0.2.10")],
             ["no-selector-no-endpoints"]),
    Scenario("healthy-manual-endpoints",
             "Selector-less Service with a correctly linked manual EndpointSlice.",
             "data", "warehouse",
             [service("warehouse", "data", None, ports="[{name: postgres, port: 5432}]"),
              manual_slice("warehouse-1", "data", "warehouse", "192.0.2.20")], []),
    Scenario("readiness-failing",
             "Every pod fails its readiness probe (HTTP 503); the kubelet's Unhealthy events say so.",
             "billing", "invoices",
             [deployment("invoices", "billing", {"app": "invoices"},
                         pod_labels={"svcdoctor.test/ready": "false"}),
              service("invoices", "billing", {"app": "invoices"})],
             ["no-ready-endpoints"], setup=_readiness_failing),
    Scenario("some-not-ready", "One of three pods fails its readiness probe.",
             "search", "search",
             [deployment("search", "search", {"app": "search"}, replicas=3),
              service("search", "search", {"app": "search"})],
             ["some-endpoints-not-ready"], setup=_one_not_ready),
    Scenario("only-terminating",
             "The Deployment was scaled to 0; its pods are still terminating and are the only endpoints.",
             "orders", "orders",
             [deployment("orders", "orders", {"app": "orders"},
                         pod_labels={"svcdoctor.test/hold-terminating": "true"}),
              service("orders", "orders", {"app": "orders"})],
             ["endpoints-only-terminating"], setup=_scale_to_zero_held),
    Scenario("node-notready",
             "Both pods run on node-d, whose kubelet stopped reporting; the node is NotReady.",
             "reports", "reports",
             [deployment("reports", "reports", {"app": "reports"},
                         extra_pod="nodeSelector: {kubernetes.io/hostname: node-d}\n"
                                   "tolerations: [{operator: Exists, effect: NoSchedule}]\n"),
              service("reports", "reports", {"app": "reports"})],
             ["endpoints-on-notready-node", "no-ready-endpoints"],
             setup=lambda cp, sc: _node_goes_down(cp, sc)),
    Scenario("selector-too-broad",
             "Selector app=web matches the stable Deployment and a canary Deployment.",
             "store", "web",
             [deployment("web", "store", {"app": "web", "track": "stable"}, replicas=3),
              deployment("web-canary", "store", {"app": "web", "track": "canary"}, replicas=1,
                         image="nginx:1.28-canary"),
              service("web", "store", {"app": "web"})],
             ["selector-too-broad"]),
    Scenario("target-port-name-missing",
             "targetPort: http, but the container port is named web.",
             "blog", "blog",
             [deployment("blog", "blog", {"app": "blog"},
                         ports="[{name: web, containerPort: 8080}]",
                         probe="{httpGet: {path: /, port: web}}"),
              service("blog", "blog", {"app": "blog"})],
             ["target-port-name-not-found"]),
    Scenario("target-port-name-udp",
             "targetPort: dns on a TCP port, but the pods declare dns only as UDP.",
             "infra", "resolver",
             [deployment("resolver", "infra", {"app": "resolver"},
                         ports="[{name: dns, containerPort: 53, protocol: UDP}, "
                               "{name: health, containerPort: 8080}]",
                         probe="{httpGet: {path: /health, port: health}}"),
              service("resolver", "infra", {"app": "resolver"},
                      ports="[{name: dns, port: 53, targetPort: dns}]")],
             ["target-port-name-not-found"]),
    Scenario("sidecar-named-port",
             "targetPort names a port declared by a sidecar (restartable init container): healthy.",
             "mesh", "metrics",
             [deployment("app", "mesh", {"app": "metrics"},
                         extra_pod="""\
                            initContainers:
                            - name: exporter
                              image: prom/statsd-exporter:v0.28.0
                              restartPolicy: Always
                              ports: [{name: metrics, containerPort: 9102}]
                            """),
              service("metrics", "mesh", {"app": "metrics"},
                      ports="[{name: metrics, port: 9102, targetPort: metrics}]")], []),
    Scenario("target-port-not-exposed",
             "targetPort 8080, but the container declares and probes port 3000.",
             "docs", "docs",
             [deployment("docs", "docs", {"app": "docs"},
                         ports="[{containerPort: 3000}]", probe="{tcpSocket: {port: 3000}}"),
              service("docs", "docs", {"app": "docs"}, ports="[{port: 80, targetPort: 8080}]")],
             ["target-port-not-exposed"]),
    Scenario("protocol-mismatch",
             "The Service exposes 5353/TCP while the pods declare 5353 only as UDP.",
             "infra", "mdns",
             [deployment("mdns", "infra", {"app": "mdns"},
                         ports="[{containerPort: 5353, protocol: UDP}, {name: health, containerPort: 8081}]",
                         probe="{httpGet: {path: /health, port: health}}"),
              service("mdns", "infra", {"app": "mdns"}, ports="[{port: 5353, targetPort: 5353}]")],
             ["port-protocol-mismatch"]),
    Scenario("headless-none-ready",
             "Headless Service of a StatefulSet-like workload whose pods all fail readiness.",
             "kafka", "kafka-headless",
             [deployment("kafka", "kafka", {"app": "kafka"},
                         ports="[{name: broker, containerPort: 9092}]",
                         probe="{tcpSocket: {port: broker}}",
                         pod_labels={"svcdoctor.test/ready": "false"}),
              service("kafka-headless", "kafka", {"app": "kafka"},
                      ports="[{name: broker, port: 9092, targetPort: broker}]",
                      extra="clusterIP: None\n")],
             ["no-ready-endpoints", "headless-no-ready-addresses"]),
    Scenario("multiport-second-broken",
             "Two ports: http resolves, but targetPort metrics is not declared by the pods.",
             "catalog", "catalog",
             [deployment("catalog", "catalog", {"app": "catalog"}),
              service("catalog", "catalog", {"app": "catalog"},
                      ports="[{name: http, port: 80, targetPort: http}, "
                            "{name: metrics, port: 9100, targetPort: metrics}]")],
             ["target-port-name-not-found"]),
]

SCENARIOS += [
    Scenario("lb-no-implementation",
             "type LoadBalancer on a cluster with no load-balancer implementation: really pending.",
             "edge", "storefront",
             [deployment("storefront", "edge", {"app": "storefront"}),
              service("storefront", "edge", {"app": "storefront"}, extra="type: LoadBalancer\n")],
             ["lb-pending-no-controller"]),
    Scenario("lb-class-unclaimed",
             "loadBalancerClass service.k8s.aws/nlb, but the AWS Load Balancer Controller is not installed.",
             "edge", "partner-api",
             [deployment("partner-api", "edge", {"app": "partner-api"}),
              service("partner-api", "edge", {"app": "partner-api"},
                      extra="type: LoadBalancer\nloadBalancerClass: service.k8s.aws/nlb\n")],
             ["lb-class-unclaimed"]),
]


# --- load-balancer controllers' failures, as they post them (upstream message texts) -----

SYNC = "Error syncing load balancer: failed to ensure load balancer: "
LB_FAILURES = [
    # (translation, reason, source component, message, extra Service spec)
    ("aws-no-suitable-subnets", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "could not find any suitable subnets for creating the ELB", ""),
    ("aws-lbc-subnets-internal-scheme", "FailedBuildModel", "service",
     "Failed build model due to unable to resolve at least one subnet "
     "(0 match VPC and tags: [kubernetes.io/role/internal-elb])", "loadBalancerClass: service.k8s.aws/nlb\n"),
    ("aws-vpc-no-internet-gateway", "SyncLoadBalancerFailed", "service-controller",
     SYNC + 'error creating load balancer: "InvalidSubnet: VPC vpc-0a1b2c3d4e5f67890 has no internet gateway'
            '\n\tstatus code: 400, request id: 5d8f1c2a-3b4e-4f6a-9c7d-0e1f2a3b4c5d"', ""),
    ("aws-loadbalancerip-unsupported", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "LoadBalancerIP cannot be specified for AWS ELB", "loadBalancerIP: 203.0.113.10\n"),
    ("mixed-protocols", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "mixed protocol is not supported for LoadBalancer", "MIXED"),
    ("aws-multiple-tagged-security-groups", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "Multiple tagged security groups found for instance i-0abc123def4567890; ensure only the k8s "
            "security group is tagged; the tagged groups were sg-0a1b2c3d(k8s-elb-a1b2) sg-0e4f5a6b(nodes)", ""),
    ("aws-multiple-untagged-security-groups", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "Multiple untagged security groups found for instance i-0abc123def4567890; "
            "ensure the k8s security group is tagged", ""),
    ("gcp-ip-not-reserved", "SyncLoadBalancerFailed", "service-controller",
     SYNC + 'requested ip "203.0.113.20" is neither static nor assigned to the LB', "loadBalancerIP: 203.0.113.20\n"),
    ("gcp-network-tier-mismatch", "SyncLoadBalancerFailed", "service-controller",
     SYNC + 'requested IP "203.0.113.21" belongs to the Standard network tier; expected Premium',
     "loadBalancerIP: 203.0.113.21\n"),
    ("gcp-shared-vpc-firewall", "LoadBalancerManualChange", "service-controller",
     "Firewall change required by security admin: `gcloud compute firewall-rules create "
     "k8s-fw-a1b2c3d4e5f6 --network shared-vpc --description \"{\\\"kubernetes.io/service-name\\\":"
     "\\\"cloud/lb-gcp-shared-vpc-firewall\\\"}\" --allow tcp:80 --source-ranges 0.0.0.0/0 "
     "--target-tags gke-prod-node --project host-project`", ""),
    ("azure-ip-in-other-resource-group", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "findMatchedPIPByLoadBalancerIP: cannot find public IP with IP address 20.50.60.70 in resource "
            "group mc_prod-rg_prod-aks_westeurope: not found", "loadBalancerIP: 20.50.60.70\n"),
    ("azure-join-permission", "SyncLoadBalancerFailed", "service-controller",
     SYNC + 'Retriable: false, RetryAfter: 0s, HTTPStatusCode: 403, RawError: Code="LinkedAuthorizationFailed" '
            "Message=\"The client '8f3c2a1b-0000-4000-8000-123456789abc' with object id "
            "'8f3c2a1b-0000-4000-8000-123456789abc' has permission to perform action "
            "'Microsoft.Network/loadBalancers/write' on scope '/subscriptions/0000/resourceGroups/mc_rg/providers/"
            "Microsoft.Network/loadBalancers/kubernetes'; however, it does not have permission to perform action "
            "'Microsoft.Network/publicIPAddresses/join/action' on the linked scope(s) '/subscriptions/0000/"
            "resourceGroups/net-rg/providers/Microsoft.Network/publicIPAddresses/prod-ip' or the linked scope(s) "
            "are invalid.\"", ""),
    ("azure-source-ranges-conflict", "ConflictConfiguration", "service-controller",
     "cannot set both spec.LoadBalancerSourceRanges and service annotation "
     "service.beta.kubernetes.io/azure-allowed-ip-ranges", "loadBalancerSourceRanges: [198.51.100.0/24]\n"),
    ("quota-exceeded", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "failed to ensure a static IP for load balancer (a1b2c3d4e5f6): googleapi: Error 403: "
            "Quota 'STATIC_ADDRESSES' exceeded.  Limit: 8.0 in region us-central1., quotaExceeded", ""),
    ("unknown", "SyncLoadBalancerFailed", "service-controller",
     SYNC + "OperationNotAllowed: the subscription is disabled and therefore marked as read only", ""),
]


def _lb_failure(translation: str, reason: str, component: str, message: str):
    def setup(cp: Any, sc: "Scenario") -> None:
        cp.wait_until(lambda: len(pods(cp, sc.namespace)) >= 2 and all(ready(p) for p in pods(cp, sc.namespace)),
                      timeout=60, what="cloud: 2 ready pods")
        if translation == "azure-source-ranges-conflict":  # both ways of restricting sources
            cp.kubectl("-n", sc.namespace, "annotate", "service", sc.service, "--overwrite",
                       "service.beta.kubernetes.io/azure-allowed-ip-ranges=198.51.100.0/24")
        post_event(cp, sc.namespace, "Service", sc.service, reason="EnsuringLoadBalancer",
                   message="Ensuring load balancer", count=9, span_s=1080, component=component, type_="Normal")
        post_event(cp, sc.namespace, "Service", sc.service, reason=reason, message=message, count=9,
                   span_s=1080, component=component,
                   type_="Normal" if reason == "LoadBalancerManualChange" else "Warning")
    return setup


def _lb_service(name: str, extra: str) -> str:
    ports = "[{name: http, port: 80, targetPort: http}]"
    if extra == "MIXED":
        ports, extra = ("[{name: dns-tcp, port: 53, targetPort: 8053, protocol: TCP}, "
                        "{name: dns-udp, port: 53, targetPort: 8053, protocol: UDP}]"), ""
    return service(name, "cloud", {"app": "app"}, ports=ports, extra="type: LoadBalancer\n" + extra)


for _t, _reason, _component, _message, _extra in LB_FAILURES:
    SCENARIOS.append(Scenario(
        f"lb-failed-{_t}", f"The load-balancer controller reports {_reason}: {_t} "
                           f"(event posted as {_component} posts it).",
        "cloud", f"lb-{_t}"[:63],
        [deployment("app", "cloud", {"app": "app"},
                    ports="[{name: http, containerPort: 8080}, {name: dns-tcp, containerPort: 8053}, "
                          "{name: dns-udp, containerPort: 8053, protocol: UDP}]"),
         _lb_service(f"lb-{_t}"[:63], _extra)],
        ["lb-requested-ip-not-allowed" if _t == "gcp-ip-not-reserved" else "lb-provisioning-failed"],
        setup=_lb_failure(_t, _reason, _component, _message), translation=_t))


# --- MetalLB, played by the test ------------------------------------------------------
# The test installs minimal MetalLB CRDs (metallb.io/v1beta1, schemas left open) and plays
# MetalLB's controller and speaker: it creates the pools, sets the Service's status and the
# pool's status, and posts the events they post (upstream texts, metallb controller/service.go
# and internal/allocator). Addresses come from TEST-NET-2 (198.51.100.0/24): nothing dials them.

def _crd(kind: str, plural: str, status: bool) -> str:
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    version = {"name": "v1beta1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": {"type": "object",
                                              "properties": {"spec": open_object, "status": open_object}}}}
    if status:
        version["subresources"] = {"status": {}}
    return json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.metallb.io"},
        "spec": {"group": "metallb.io", "scope": "Namespaced", "versions": [version],
                 "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}}})


METALLB_CRDS = [("IPAddressPool", "ipaddresspools", True), ("L2Advertisement", "l2advertisements", True),
                ("BGPAdvertisement", "bgpadvertisements", True)]


def install_metallb(cp: Any) -> None:
    cp.create_namespace("metallb-system")
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(_crd(*c) for c in METALLB_CRDS))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=30s",
               *[f"crd/{plural}.metallb.io" for _, plural, _ in METALLB_CRDS])
    cp.wait_until(lambda: cp.kubectl("get", "ipaddresspools", "-A", check=False).returncode == 0,
                  timeout=30, what="MetalLB API served")


def ip_pool(name: str, addresses: list[str], *, auto_assign: bool = True, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {{name: {name}, namespace: metallb-system}}
        spec:
          addresses: {json.dumps(addresses)}
          autoAssign: {str(auto_assign).lower()}
        """) + textwrap.indent(textwrap.dedent(extra), "  ")


def l2_advertisement(name: str, pools: list[str]) -> str:
    return textwrap.dedent(f"""\
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {{name: {name}, namespace: metallb-system}}
        spec: {{ipAddressPools: {json.dumps(pools)}}}
        """)


def set_pool_status(cp: Any, pool: str, assigned: int, available: int) -> None:
    """MetalLB (v0.14.9+) counts a pool's addresses in its status."""
    cp.kubectl("-n", "metallb-system", "patch", "ipaddresspool", pool, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": {"assignedIPv4": assigned, "assignedIPv6": 0,
                                            "availableIPv4": available, "availableIPv6": 0}}))


def metallb_allocates(cp: Any, ns: str, svc: str, ip: str, pool: str, *, ago_s: int = 600) -> None:
    """What MetalLB's controller does on success: annotate, set the status, post IPAllocated."""
    cp.kubectl("-n", ns, "annotate", "service", svc, "--overwrite", f"metallb.io/ip-allocated-from-pool={pool}")
    cp.kubectl("-n", ns, "patch", "service", svc, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}}))
    post_event(cp, ns, "Service", svc, reason="IPAllocated", message=f'Assigned IP ["{ip}"]', count=1,
               span_s=0, component="metallb-controller", type_="Normal", ago_s=ago_s)


def metallb_announces(cp: Any, ns: str, svc: str, node: str, *, ago_s: int = 598) -> None:
    post_event(cp, ns, "Service", svc, reason="nodeAssigned",
               message=f'announcing from node "{node}" with protocol "layer2"', count=1, span_s=0,
               component="metallb-speaker", type_="Normal", host=node, ago_s=ago_s)


def _metallb_healthy(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)
    metallb_allocates(cp, sc.namespace, sc.service, "198.51.100.240", "lan")
    metallb_announces(cp, sc.namespace, sc.service, "node-a")


def _metallb_exhausted(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)
    # two Services already hold both addresses of the pool
    for i, holder in enumerate(("web-1", "web-2")):
        metallb_allocates(cp, sc.namespace, holder, f"198.51.100.{16 + i}", "tiny", ago_s=3600)
    set_pool_status(cp, "tiny", assigned=2, available=0)
    post_event(cp, sc.namespace, "Service", sc.service, reason="AllocationFailed",
               message=f'Failed to allocate IP for "{sc.namespace}/{sc.service}": no available IPs in pool "tiny"',
               count=7, span_s=900, component="metallb-controller")


def _metallb_ip_not_allowed(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)
    post_event(cp, sc.namespace, "Service", sc.service, reason="AllocationFailed",
               message=f'Failed to allocate IP for "{sc.namespace}/{sc.service}": "198.51.100.99" is not allowed in config',
               count=5, span_s=420, component="metallb-controller")


def _metallb_not_announced(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)
    metallb_allocates(cp, sc.namespace, sc.service, "198.51.100.130", "dmz", ago_s=900)


def _metallb_event(reason: str, message: str, *, allocate: tuple[str, str] | None = None,
                   component: str = "metallb-controller", ready_pods: int = 2,
                   holder: tuple[str, str, str] | None = None):
    """Setup: (optionally allocate an address, then) post one MetalLB event on the Service.
    ``holder``: (Service, address, pool) another Service got first."""
    def setup(cp: Any, sc: "Scenario") -> None:
        if ready_pods:
            _wait_ready(cp, sc, ready_pods)
        if holder:
            metallb_allocates(cp, sc.namespace, holder[0], holder[1], holder[2], ago_s=3000)
        if allocate:
            metallb_allocates(cp, sc.namespace, sc.service, *allocate, ago_s=1200)
        post_event(cp, sc.namespace, "Service", sc.service, reason=reason,
                   message=message.format(key=f"{sc.namespace}/{sc.service}"), count=4, span_s=1100,
                   component=component, host="node-b" if component == "metallb-speaker" else "")
    return setup


def _metallb_allocated_only(ip: str, pool: str, *, ready_pods: int = 2):
    def setup(cp: Any, sc: "Scenario") -> None:
        if ready_pods:
            _wait_ready(cp, sc, ready_pods)
        else:
            cp.wait_until(lambda: _all_pods_running(cp, sc), timeout=60, what=f"{sc.name}: pods running")
        metallb_allocates(cp, sc.namespace, sc.service, ip, pool, ago_s=900)
    return setup


def _metallb_silent(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)  # MetalLB posts nothing: "pools are empty" is a debug log line


def _wait_ready(cp: Any, sc: "Scenario", n: int) -> None:
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) >= n and all(ready(p) for p in pods(cp, sc.namespace)),
                  timeout=60, what=f"{sc.name}: {n} ready pods")


def _lan_app(ns: str) -> str:
    return deployment("app", ns, {"app": "app"})


def _lb(name: str, ns: str, extra: str = "") -> str:
    return service(name, ns, {"app": "app"}, extra="type: LoadBalancer\n" + extra)


def _annotated_lb(name: str, ns: str, annotations: dict[str, str]) -> str:
    return _lb(name, ns).replace(f"metadata: {{name: {name}, namespace: {ns}}}",
                                 f"metadata: {{name: {name}, namespace: {ns}, annotations: {json.dumps(annotations)}}}")


def _prepare_metallb(cp: Any) -> None:
    """One MetalLB setup shared by several scenarios: pools lan (announced), tiny (2 addresses,
    only for namespace lan-full) and dmz (no advertisement)."""
    install_metallb(cp)
    cp.kubectl("apply", "-f", "-", input="\n---\n".join([
        ip_pool("lan", ["198.51.100.240-198.51.100.250"],
                extra="serviceAllocation: {namespaces: [lan, lan-requested, lan-sick]}\n"),
        ip_pool("rack", ["198.51.100.192/28"], extra="serviceAllocation: {namespaces: [rack]}\n"),
        textwrap.dedent("""\
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: {name: rack-7, namespace: metallb-system}
            spec:
              ipAddressPools: [rack]
              nodeSelectors: [{matchLabels: {topology.example.com/rack: r7}}]
            """),
        ip_pool("tiny", ["198.51.100.16/31"], extra="serviceAllocation: {namespaces: [lan-full]}\n"),
        ip_pool("dmz", ["198.51.100.128/28"], extra="serviceAllocation: {namespaces: [dmz]}\n"),
        l2_advertisement("lan", ["lan", "tiny"])]))
    set_pool_status(cp, "lan", assigned=1, available=10)
    set_pool_status(cp, "dmz", assigned=1, available=15)


def _prepare_metallb_empty(cp: Any) -> None:
    install_metallb(cp)


def _prepare_metallb_manual(cp: Any) -> None:
    install_metallb(cp)
    cp.kubectl("apply", "-f", "-", input="\n---\n".join([
        ip_pool("reserved", ["198.51.100.64/28"], auto_assign=False), l2_advertisement("reserved", ["reserved"])]))


def _prepare_excluded(cp: Any) -> None:
    """A cloud cluster whose every node is labelled out of load balancers."""
    for i, (name, ip) in enumerate(NODES):
        cp.add_node(name, ip=ip, provider_id=f"aws:///us-east-1{'abc'[i]}/i-0a1b2c3d4e5f6070{i}",
                    labels={"node.kubernetes.io/exclude-from-external-load-balancers": "true"})


def _cloud_unavailable(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)
    post_event(cp, sc.namespace, "Service", sc.service, reason="EnsuringLoadBalancer",
               message="Ensuring load balancer", count=6, span_s=700, component="service-controller", type_="Normal")
    post_event(cp, sc.namespace, "Service", sc.service, reason="UnAvailableLoadBalancer",
               message="There are no available nodes for LoadBalancer", count=6, span_s=700,
               component="service-controller")


# --- k3s ServiceLB, played by the test ------------------------------------------------
# ServiceLB's controller creates one DaemonSet per LoadBalancer Service whose pods bind the
# Service's ports as host ports (older k3s: in the Service's namespace, as here; newer: in
# kube-system). The DaemonSet controller and the scheduler are the real ones, so the
# "didn't have free ports" verdict is the real scheduler's.

def svclb_daemonset(svc: str, ns: str, port: int, suffix: str) -> str:
    name = f"svclb-{svc}-{suffix}"
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: {name}
          namespace: {ns}
          labels: {{svccontroller.k3s.cattle.io/nodeselector: "false", objectset.rio.cattle.io/owner-name: {svc}}}
        spec:
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata:
              labels: {{app: {name}, svccontroller.k3s.cattle.io/svcname: {svc}, svccontroller.k3s.cattle.io/svcnamespace: {ns}}}
            spec:
              automountServiceAccountToken: false
              tolerations: [{{operator: Exists}}]
              containers:
              - name: lb-tcp-{port}
                image: rancher/klipper-lb:v0.4.9
                ports: [{{name: lb-tcp-{port}, containerPort: {port}, hostPort: {port}, protocol: TCP}}]
                env:
                - {{name: SRC_PORT, value: "{port}"}}
                - {{name: SRC_RANGES, value: 0.0.0.0/0}}
                - {{name: DEST_PROTO, value: TCP}}
                - {{name: DEST_PORT, value: "{port}"}}
                securityContext: {{capabilities: {{add: [NET_ADMIN]}}}}
        """)


def _servicelb_port_taken(cp: Any, sc: "Scenario") -> None:
    ns = sc.namespace
    cp.kubectl("apply", "-f", "-", input=svclb_daemonset("blog", ns, 80, "1f0e2d3c"))
    blog = "svccontroller.k3s.cattle.io/svcname=blog"
    cp.wait_until(lambda: sum(p.get("status", {}).get("phase") == "Running" for p in pods(cp, ns, blog))
                  >= len(NODES), timeout=60, what="svclb-blog pods running")
    ips = sorted(p["status"]["hostIP"] for p in pods(cp, ns, blog) if p["status"].get("phase") == "Running")
    cp.kubectl("-n", ns, "patch", "service", "blog", "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ips]}}}))
    cp.kubectl("apply", "-f", "-", input=svclb_daemonset(sc.service, ns, 80, "5c2e1f3a"))
    post_event(cp, ns, "Service", sc.service, reason="AppliedDaemonSet",
               message=f"Applied LoadBalancer DaemonSet {ns}/svclb-{sc.service}-5c2e1f3a", count=1, span_s=0,
               component="service-lb-controller", type_="Normal")
    web = f"svccontroller.k3s.cattle.io/svcname={sc.service}"

    def unschedulable() -> bool:
        items = pods(cp, ns, web)
        return bool(items) and all(any(c["type"] == "PodScheduled" and c["status"] == "False"
                                       for c in p.get("status", {}).get("conditions") or []) for p in items)
    cp.wait_until(unschedulable, timeout=60, what="svclb-web pods unschedulable")


SCENARIOS.append(Scenario(
    "servicelb-host-port-taken",
    "k3s ServiceLB: Service blog already binds host port 80 on every node; web's svclb pods cannot be placed.",
    "k3s", "web",
    [deployment("web", "k3s", {"app": "web"}), deployment("blog", "k3s", {"app": "blog"}),
     service("web", "k3s", {"app": "web"}, extra="type: LoadBalancer\n"),
     service("blog", "k3s", {"app": "blog"}, extra="type: LoadBalancer\n")],
    ["lb-host-port-conflict"], setup=_servicelb_port_taken))


# --- AWS: who owns the Service, and which annotations it ignores ------------------------
# A cluster whose nodes carry AWS providerIDs; the test plays the in-tree controller
# (service-controller) and the AWS Load Balancer Controller (source "service").

def _prepare_aws(cp: Any) -> None:
    for i, (name, ip) in enumerate(NODES):
        cp.add_node(name, ip=ip, provider_id=f"aws:///us-east-1{'abc'[i]}/i-0b1c2d3e4f5a6070{i}")


def _aws_built(component: str, hostname: str):
    """Setup: the controller built the load balancer (events, status hostname)."""
    def setup(cp: Any, sc: "Scenario") -> None:
        _wait_ready(cp, sc, 2)
        if component == "service-controller":
            post_event(cp, sc.namespace, "Service", sc.service, reason="EnsuringLoadBalancer",
                       message="Ensuring load balancer", count=1, span_s=0, component=component, type_="Normal", ago_s=1500)
            post_event(cp, sc.namespace, "Service", sc.service, reason="EnsuredLoadBalancer",
                       message="Ensured load balancer", count=1, span_s=0, component=component, type_="Normal", ago_s=1440)
        else:
            post_event(cp, sc.namespace, "Service", sc.service, reason="SuccessfullyReconciled",
                       message="Successfully reconciled", count=3, span_s=1400, component=component, type_="Normal")
        cp.kubectl("-n", sc.namespace, "patch", "service", sc.service, "--subresource=status", "--type=merge",
                   "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}}))
    return setup


def _aws_untouched(cp: Any, sc: "Scenario") -> None:
    _wait_ready(cp, sc, 2)  # no controller takes the Service: no event, no status


CLUSTERS: dict[str, Callable[[Any], None]] = {
    "metallb": _prepare_metallb, "metallb-empty": _prepare_metallb_empty,
    "metallb-manual": _prepare_metallb_manual, "cloud-excluded": _prepare_excluded, "aws": _prepare_aws,
}

SCENARIOS += [
    Scenario("metallb-healthy", "MetalLB allocated 198.51.100.240 from pool lan and node-a announces it.",
             "lan", "shop", [_lan_app("lan"), _lb("shop", "lan")], [],
             setup=_metallb_healthy, cluster="metallb"),
    Scenario("metallb-pool-exhausted",
             "Pool tiny (2 addresses, namespace lan-full only) is taken by web-1 and web-2; web-3 gets none.",
             "lan-full", "web-3",
             [_lan_app("lan-full"), _lb("web-1", "lan-full"), _lb("web-2", "lan-full"), _lb("web-3", "lan-full")],
             ["lb-ip-pool-exhausted"], setup=_metallb_exhausted, cluster="metallb", translation="pool-exhausted"),
    Scenario("metallb-requested-ip-not-allowed",
             "The Service requests 198.51.100.99 (metallb.io/loadBalancerIPs), which is in no pool.",
             "lan-requested", "printer",
             [_lan_app("lan-requested"),
              _annotated_lb("printer", "lan-requested", {"metallb.io/loadBalancerIPs": "198.51.100.99"})],
             ["lb-requested-ip-not-allowed"], setup=_metallb_ip_not_allowed, cluster="metallb",
             translation="ip-not-in-pool"),
    Scenario("metallb-not-announced",
             "MetalLB allocated 198.51.100.130 from pool dmz, but no L2Advertisement or BGPAdvertisement covers dmz.",
             "dmz", "gateway", [_lan_app("dmz"), _lb("gateway", "dmz")],
             ["lb-ip-not-announced"], setup=_metallb_not_announced, cluster="metallb", translation="no-advertisement"),
    Scenario("metallb-unknown-pool", "The Service asks for pool lan-pool (metallb.io/address-pool); the pool is lan.",
             "lan", "wiki", [_lan_app("lan"), _annotated_lb("wiki", "lan", {"metallb.io/address-pool": "lan-pool"})],
             ["lb-no-address-pool"], cluster="metallb", translation="unknown-pool",
             setup=_metallb_event("AllocationFailed", 'Failed to allocate IP for "{key}": unknown pool "lan-pool"')),
    Scenario("metallb-port-in-use",
             "The Service requests shop's address 198.51.100.240 with an allow-shared-ip key; shop has none.",
             "lan", "shop-canary",
             [_lan_app("lan"), _annotated_lb("shop-canary", "lan", {"metallb.io/loadBalancerIPs": "198.51.100.240",
                                                                   "metallb.io/allow-shared-ip": "shop"})],
             ["lb-requested-ip-not-allowed"], cluster="metallb", translation="sharing-conflict",
             setup=_metallb_event("AllocationFailed",
                                  'Failed to allocate IP for "{key}": can\'t change sharing key for "{key}", '
                                  'address also in use by lan/shop')),
    Scenario("metallb-invalid-requested-ip", "metallb.io/loadBalancerIPs holds 198.51.100.300, not an address.",
             "lan", "kiosk", [_lan_app("lan"), _annotated_lb("kiosk", "lan", {"metallb.io/loadBalancerIPs": "198.51.100.300"})],
             ["lb-requested-ip-not-allowed"], cluster="metallb", translation="invalid-requested-ip",
             setup=_metallb_event("LoadBalancerFailed", 'invalid requested loadbalancer IPs: invalid '
                                  'metallb.io/loadBalancerIPs: "198.51.100.300"')),
    Scenario("metallb-ip-not-in-requested-pool",
             "The Service asks for 198.51.100.241 and for pool tiny; the address belongs to pool lan.",
             "lan", "ledger", [_lan_app("lan"), _annotated_lb("ledger", "lan", {"metallb.io/loadBalancerIPs": "198.51.100.241",
                                                                              "metallb.io/address-pool": "tiny"})],
             ["lb-requested-ip-not-allowed"], cluster="metallb", translation="ip-pool-mismatch",
             setup=_metallb_event("AllocationFailed", 'Failed to allocate IP for "{key}": requested loadBalancer IP(s) '
                                  '["198.51.100.241"] is not compatible with requested address pool tiny')),
    Scenario("metallb-ip-family-mismatch", "An IPv4 Service requests the IPv6 address 2001:db8::10.",
             "lan", "relay", [_lan_app("lan"), _annotated_lb("relay", "lan", {"metallb.io/loadBalancerIPs": "2001:db8::10"})],
             ["lb-requested-ip-not-allowed"], cluster="metallb", translation="ip-family-mismatch",
             setup=_metallb_event("AllocationFailed", 'Failed to allocate IP for "{key}": requested loadBalancer IP(s) '
                                  '["2001:db8::10"] does not match the ipFamily of the service')),
    Scenario("metallb-sharing-backend-key",
             "shop-local (externalTrafficPolicy: Local) wants to share pos's address (same allow-shared-ip key); "
             "pos uses externalTrafficPolicy: Cluster, so their backend keys differ.",
             "lan", "shop-local",
             [_lan_app("lan"),
              _annotated_lb("pos", "lan", {"metallb.io/loadBalancerIPs": "198.51.100.245",
                                           "metallb.io/allow-shared-ip": "pos-ip"}),
              _annotated_lb("shop-local", "lan", {"metallb.io/loadBalancerIPs": "198.51.100.245",
                                                  "metallb.io/allow-shared-ip": "pos-ip"}
                            ).replace("type: LoadBalancer\n", "type: LoadBalancer\n  externalTrafficPolicy: Local\n")
                             .replace("port: 80,", "port: 443,")],
             ["lb-requested-ip-not-allowed"], cluster="metallb", translation="sharing-backend-key",
             setup=_metallb_event("AllocationFailed", 'Failed to allocate IP for "{key}": backend key "app=app" '
                                  'does not match existing sharing key ""', holder=("pos", "198.51.100.245", "lan"))),
    Scenario("metallb-requested-ip-outside-pools",
             "The Service requests 198.51.100.98, in no pool; MetalLB's event has expired (events live 1 h).",
             "lan-requested", "scanner",
             [_lan_app("lan-requested"), _annotated_lb("scanner", "lan-requested",
                                                       {"metallb.io/loadBalancerIPs": "198.51.100.98"})],
             ["lb-requested-ip-not-allowed"], cluster="metallb", translation="requested-ip-outside-pools",
             setup=_metallb_silent),
    Scenario("metallb-pools-full", "A fourth Service in lan-full, whose only pool reports 0 available addresses.",
             "lan-full", "web-4", [_lan_app("lan-full"), _lb("web-4", "lan-full")],
             ["lb-ip-pool-exhausted"], cluster="metallb", translation="pools-full", setup=_metallb_silent),
    Scenario("metallb-announce-failed",
             "The speaker on node-b cannot announce from the interfaces the L2Advertisement names.",
             "lan", "portal", [_lan_app("lan"), _lb("portal", "lan")],
             ["lb-ip-not-announced"], cluster="metallb", translation="announce-failed",
             setup=_metallb_event("announceFailed", 'the interfaces specified by LB IP "198.51.100.242" doesn\'t exist '
                                  'in assigned node "node-b" with protocol "layer2"',
                                  allocate=("198.51.100.242", "lan"), component="metallb-speaker")),
    Scenario("metallb-speaker-silent",
             "Allocated from pool lan (announced by L2Advertisement lan) 20 minutes ago; no speaker announced it.",
             "lan", "intranet", [_lan_app("lan"), _lb("intranet", "lan")],
             ["lb-ip-not-announced"], cluster="metallb", translation="no-announcement-event",
             setup=_metallb_allocated_only("198.51.100.243", "lan")),
    Scenario("metallb-node-selectors",
             "Pool rack is announced only from nodes labelled topology.example.com/rack=r7; no node has it.",
             "rack", "storage", [_lan_app("rack"), _lb("storage", "rack")],
             ["lb-ip-not-announced"], cluster="metallb", translation="node-selectors-exclude",
             setup=_metallb_allocated_only("198.51.100.193", "rack")),
    Scenario("metallb-no-ready-endpoints",
             "Allocated from pool lan, but no pod is ready, so no speaker announces it.",
             "lan-sick", "reports",
             [deployment("reports", "lan-sick", {"app": "reports"}, pod_labels={"svcdoctor.test/ready": "false"}),
              service("reports", "lan-sick", {"app": "reports"}, extra="type: LoadBalancer\n")],
             ["no-ready-endpoints", "lb-ip-not-announced"], cluster="metallb", translation="no-ready-endpoints",
             setup=_metallb_allocated_only("198.51.100.244", "lan", ready_pods=0)),
    Scenario("metallb-no-pool", "MetalLB is installed (its CRDs answer) but has no IPAddressPool.",
             "lan", "shop", [_lan_app("lan"), _lb("shop", "lan")],
             ["lb-no-address-pool"], setup=_metallb_silent, cluster="metallb-empty", translation="no-pools"),
    Scenario("metallb-pool-manual-only",
             "The only pool has autoAssign: false and the Service does not name it.",
             "lan", "shop", [_lan_app("lan"), _lb("shop", "lan")],
             ["lb-no-address-pool"], setup=_metallb_silent, cluster="metallb-manual", translation="no-usable-pool"),
    Scenario("aws-scheme-internal-ignored",
             "In-tree AWS Service annotated aws-load-balancer-scheme: internal (an AWS LBC annotation): "
             "the in-tree controller built an internet-facing ELB.",
             "payments", "ledger-api",
             [_lan_app("payments"), _annotated_lb("ledger-api", "payments",
                                                  {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"})],
             ["lb-provisioning-failed"], cluster="aws", translation="aws-scheme-internal-ignored-in-tree",
             setup=_aws_built("service-controller",
                              "a4c1e2f3b4d5c6e7f8091a2b3c4d5e6f-1234567890.us-east-1.elb.amazonaws.com")),
    Scenario("aws-type-external-no-target-type",
             "aws-load-balancer-type: external without aws-load-balancer-nlb-target-type: neither controller takes it.",
             "payments", "checkout",
             [_lan_app("payments"), _annotated_lb("checkout", "payments",
                                                  {"service.beta.kubernetes.io/aws-load-balancer-type": "external"})],
             ["lb-provisioning-failed"], cluster="aws", translation="aws-type-external-without-target-type",
             setup=_aws_untouched),
    Scenario("aws-lbc-not-installed",
             "Annotations hand the Service to the AWS Load Balancer Controller, which is not installed.",
             "payments", "refunds",
             [_lan_app("payments"), _annotated_lb("refunds", "payments",
                                                  {"service.beta.kubernetes.io/aws-load-balancer-type": "external",
                                                   "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"})],
             ["lb-class-unclaimed"], cluster="aws", setup=_aws_untouched),
    Scenario("aws-lbc-ignores-classic-annotations",
             "The AWS Load Balancer Controller built an NLB; the Service still sets Classic ELB idle timeout and draining.",
             "payments", "statements",
             [_lan_app("payments"),
              _annotated_lb("statements", "payments",
                            {"service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "3600",
                             "service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true"}
                            ).replace("type: LoadBalancer\n", "type: LoadBalancer\n  loadBalancerClass: service.k8s.aws/nlb\n")],
             ["lb-provisioning-failed"], cluster="aws", translation="aws-in-tree-annotations-ignored-by-lbc",
             setup=_aws_built("service", "k8s-payments-statemen-0a1b2c3d4e-0123456789abcdef.elb.us-east-1.amazonaws.com")),
    Scenario("lb-no-eligible-nodes",
             "AWS cluster whose every node carries node.kubernetes.io/exclude-from-external-load-balancers.",
             "cloud", "api", [_lan_app("cloud"), _lb("api", "cloud")],
             ["lb-no-eligible-nodes"], setup=_cloud_unavailable, cluster="cloud-excluded"),
]

# Crowded namespaces (15+ apps each), where ranking and "closest" logic matter: their own
# module, and their own control plane (cross-namespace lookups must not see other scenarios).
from crowded_scenarios import CROWDED, FLEET_SCENARIOS, prepare_crowded, prepare_fleet  # noqa: E402

SCENARIOS += CROWDED + FLEET_SCENARIOS
CLUSTERS["crowded"] = prepare_crowded
CLUSTERS["fleet"] = prepare_fleet

import l7_scenarios  # noqa: E402  (needs the helpers above)

import pod_scenarios  # noqa: E402
import netpol_scenarios  # noqa: E402

CLUSTERS["l7"] = l7_scenarios.prepare
CLUSTERS["policy-apis"] = netpol_scenarios.prepare_policy_apis
CLUSTERS["old-kube-proxy"] = pod_scenarios.prepare_old_kube_proxy
CLUSTERS["aws-cloud"] = lambda cp: None   # tests/aws_scenarios.py adds the emulated instances as nodes
CLUSTERS["gcp-cloud"] = lambda cp: None   # tests/gcp_scenarios.py likewise
CLUSTERS["azure-cloud"] = lambda cp: None   # tests/azure_scenarios.py likewise
SCENARIOS += pod_scenarios.SCENARIOS + netpol_scenarios.SHARED
SCENARIOS += l7_scenarios.SCENARIOS + netpol_scenarios.SCENARIOS + [netpol_scenarios.POLICY_APIS]
SCENARIOS += pod_scenarios.OLD_KUBE_PROXY

BY_NAME = {s.name: s for s in SCENARIOS}


def prepare(cp: Any, cluster: str = "") -> None:
    """Nodes every scenario can use, and the cluster's own setup (idempotent for "")."""
    if cluster:
        CLUSTERS[cluster](cp)
    for name, ip in NODES:
        try:
            cp.get_node(name)
        except Exception:
            cp.add_node(name, ip=ip)
    for name, _ in NODES:
        cp.wait_for_node(name)


def run(cp: Any, sc: Scenario, timeout: float = 90) -> None:
    """Create the scenario's objects and wait until the controllers have caught up."""
    if sc.name == "node-notready":
        _add_node_d(cp)
    for ns in [sc.namespace, *sc.namespaces]:
        if cp.kubectl("get", "namespace", ns, check=False).returncode != 0:
            cp.create_namespace(ns)
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(sc.manifests))
    if sc.setup is not None:
        sc.setup(cp, sc)
    else:
        cp.wait_until(lambda: _all_pods_running(cp, sc) if sc.namespaces or _has_workload(sc)
                      else True, timeout=timeout, what=f"{sc.name}: pods running")
    cp.wait_until(lambda: _slices_settled(cp, sc) and (sc.settled is None or sc.settled(cp, sc)),
                  timeout=timeout, what=f"{sc.name}: EndpointSlices settled")
    time.sleep(0.5)  # let the last events land


def _has_workload(sc: Scenario) -> bool:
    return any("kind: Deployment" in m for m in sc.manifests)
