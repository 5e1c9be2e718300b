"""Network-lab scenarios: a real control plane inside a network namespace, kube-proxy's
data plane emulated from the API's own state (NodePort forwarders, health-check servers
answering with the real local endpoint counts, DROP/REJECT rules where kube-proxy would
write them), firewalls as real iptables rules, and the installed CLI probing it all.

Each scenario states the findings a correct diagnosis must report, from the scenario.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from scenarios import pods, ready

NODES = [("node-1", "127.0.0.11"), ("node-2", "127.0.0.12"), ("node-3", "127.0.0.13")]
NODE_IP = dict(NODES)
BACKEND = ("127.0.0.100", 8080)   # stands for the pods' network
PROBE_TIMEOUT = "1s"


@dataclass
class LabScenario:
    name: str
    description: str
    service: dict[str, Any]          # spec fields beyond selector/ports
    expect: list[str]
    pod_nodes: tuple[str, ...] = ("node-1", "node-2")
    pods_ready: bool = True
    selector: bool = True
    lb_ingress: list[dict] | None = None     # status.loadBalancer.ingress, as a controller would set it
    lb_answers: bool = True                  # a listener behind the LB address
    health_override: int | None = None       # localEndpoints every kube-proxy reports (name mismatch)
    kube_proxy: bool = True                  # False: nothing forwards NodePorts
    dns: dict[str, list[str]] | None = None
    firewall: Callable[[Any, "LabScenario", dict], None] | None = None

    @property
    def namespace(self) -> str:
        return self.name

    svc_name = "web"


def _manifests(sc: LabScenario, node_port: int, hc_port: int) -> str:
    spec = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], **sc.service}
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        spec["ports"][0]["nodePort"] = node_port
    if spec.get("externalTrafficPolicy") == "Local" and spec.get("type") == "LoadBalancer":
        spec["healthCheckNodePort"] = hc_port
    if sc.selector and spec.get("type") != "ExternalName":
        spec["selector"] = {"app": "web"}
    if spec.get("type") == "ExternalName":
        spec.pop("ports")
    docs = [{"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": sc.svc_name, "namespace": sc.namespace}, "spec": spec}]
    if sc.selector and sc.pod_nodes and spec.get("type") != "ExternalName":
        labels = {"app": "web"}
        pod_labels = dict(labels, **({} if sc.pods_ready else {"svcdoctor.test/ready": "false"}))
        docs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": sc.namespace},
            "spec": {"replicas": len(sc.pod_nodes), "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": pod_labels}, "spec": {
                         "nodeSelector": {f"lab.svcdoctor.test/{sc.name}": "yes"},
                         # one pod per chosen node
                         "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                             {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}]}},
                         "containers": [{"name": "web", "image": "nginx:1.27",
                                         "ports": [{"name": "http", "containerPort": 8080}],
                                         "readinessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}}})
    return "\n---\n".join(json.dumps(d) for d in docs)


def _local_ready(cp: Any, sc: LabScenario) -> dict[str, int]:
    """Ready endpoints per node, from the EndpointSlices — what kube-proxy reads."""
    slices = json.loads(cp.kubectl("-n", sc.namespace, "get", "endpointslices", "-l",
                                   f"kubernetes.io/service-name={sc.svc_name}", "-o", "json").stdout)["items"]
    out: dict[str, int] = {}
    for s in slices:
        for e in s.get("endpoints") or []:
            if (e.get("conditions") or {}).get("ready") and e.get("nodeName"):
                out[e["nodeName"]] = out.get(e["nodeName"], 0) + 1
    return out


def run(lab: Any, cp: Any, sc: LabScenario, index: int) -> dict:
    """Create the scenario and its data plane; returns facts the tests may want (ports)."""
    node_port, hc_port = 30100 + index, 32100 + index
    if cp.kubectl("get", "namespace", sc.namespace, check=False).returncode != 0:
        cp.create_namespace(sc.namespace)
    for node in sc.pod_nodes:
        cp.kubectl("label", "node", node, f"lab.svcdoctor.test/{sc.name}=yes", "--overwrite")
    cp.kubectl("apply", "-f", "-", input=_manifests(sc, node_port, hc_port))
    want = len(sc.pod_nodes) if sc.selector and sc.service.get("type") != "ExternalName" else 0
    if want:
        cp.wait_until(lambda: len(pods(cp, sc.namespace)) == want and all(
            p.get("status", {}).get("podIP") and ready(p) == sc.pods_ready for p in pods(cp, sc.namespace)),
            timeout=60, what=f"{sc.name}: pods")
        cp.wait_until(lambda: sum(len(s.get("endpoints") or []) for s in json.loads(cp.kubectl(
            "-n", sc.namespace, "get", "endpointslices", "-l", f"kubernetes.io/service-name={sc.svc_name}",
            "-o", "json").stdout)["items"]) == want, timeout=60, what=f"{sc.name}: endpoint slices")
    if sc.lb_ingress is not None:  # play the load-balancer controller: publish the address
        cp.kubectl("-n", sc.namespace, "patch", "service", sc.svc_name, "--subresource=status",
                   "--type=merge", "-p", json.dumps({"status": {"loadBalancer": {"ingress": sc.lb_ingress}}}))
    ctx = {"node_port": node_port, "hc_port": hc_port}
    _data_plane(lab, cp, sc, ctx)
    if sc.dns is not None:
        lab.dns(sc.dns)
    if sc.firewall:
        sc.firewall(lab, sc, ctx)
    return ctx


def _data_plane(lab: Any, cp: Any, sc: LabScenario, ctx: dict) -> None:
    """What kube-proxy (and the cloud LB) would program for this Service."""
    kind = sc.service.get("type", "ClusterIP")
    if kind not in ("NodePort", "LoadBalancer") or not sc.kube_proxy:
        return
    local = sc.service.get("externalTrafficPolicy") == "Local"
    ready_on = _local_ready(cp, sc)
    any_ready = sum(ready_on.values()) > 0
    for node, ip in NODES:
        seen = ready_on.get(node, 0) if sc.health_override is None else sc.health_override
        if not any_ready:
            lab.reject_reset(ip, ctx["node_port"])      # "<svc> has no endpoints" -j REJECT
        elif local and seen == 0:
            lab.drop(ip, ctx["node_port"])              # "<svc> has no local endpoints" -j DROP
        else:
            lab.nodeport(ip, ctx["node_port"], backend=BACKEND)
        if local and kind == "LoadBalancer":
            lab.health_check(ip, ctx["hc_port"], namespace=sc.namespace, name=sc.svc_name,
                             local_endpoints=seen)
    for ing in sc.lb_ingress or []:
        ip = ing.get("ip") or (sc.dns or {}).get(ing.get("hostname", ""), [None])[0]
        if ip and sc.lb_answers:
            lab.nodeport(ip, 80, backend=BACKEND)       # the cloud LB's listener


def _drop_all_nodeports(lab, sc, ctx):
    for _, ip in NODES:
        lab.drop(ip, ctx["node_port"])


def _host_prohibited_on_node2(lab, sc, ctx):
    lab.reject_host_prohibited(NODE_IP["node-2"], ctx["node_port"])


def _drop_health_port(lab, sc, ctx):
    for _, ip in NODES:
        lab.drop(ip, ctx["hc_port"])


def _drop_lb(ip: str):
    return lambda lab, sc, ctx: lab.drop(ip, 80)


NODEPORT = {"type": "NodePort"}
LB_LOCAL = {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}
LB = {"type": "LoadBalancer"}

SCENARIOS: list[LabScenario] = [
    LabScenario("lab-nodeport-healthy", "NodePort answering on every node (kube-proxy forwarding).",
                NODEPORT, []),
    LabScenario("lab-nodeport-firewall-all", "A firewall DROPs the NodePort on every node; backends healthy.",
                NODEPORT, ["nodeport-blocked"], firewall=_drop_all_nodeports),
    LabScenario("lab-nodeport-firewall-one",
                "A host firewall on node-2 rejects the NodePort with icmp-host-prohibited.",
                NODEPORT, ["nodeport-blocked"], firewall=_host_prohibited_on_node2),
    LabScenario("lab-nodeport-refused",
                "Ready endpoints, but nothing forwards the NodePort on any node (kube-proxy missing); "
                "node-3 also REJECTs with tcp-reset.",
                NODEPORT, ["nodeport-refused"], kube_proxy=False,
                firewall=lambda lab, sc, ctx: lab.reject_reset(NODE_IP["node-3"], ctx["node_port"])),
    LabScenario("lab-local-one-of-three",
                "externalTrafficPolicy: Local, the pod on node-1 only: the other nodes answer 503 (expected).",
                LB_LOCAL, ["local-policy-node-without-endpoint", "local-policy-single-node"],
                pod_nodes=("node-1",), lb_ingress=[{"ip": "127.0.0.50", "ipMode": "VIP"}]),
    LabScenario("lab-local-none-ready",
                "externalTrafficPolicy: Local and no ready pod: every node answers 503.",
                LB_LOCAL, ["no-ready-endpoints", "local-policy-all-nodes-unhealthy", "lb-unreachable"],
                pods_ready=False, lb_ingress=[{"ip": "127.0.0.51", "ipMode": "VIP"}], lb_answers=False),
    LabScenario("lab-local-name-mismatch",
                "Pods ready on node-1 and node-2, but kube-proxy's node name differs from the Node "
                "object: every node reports localEndpoints 0.",
                LB_LOCAL, ["local-policy-all-nodes-unhealthy", "lb-unreachable"], health_override=0,
                lb_ingress=[{"ip": "127.0.0.52", "ipMode": "VIP"}], lb_answers=False),
    LabScenario("lab-health-port-firewalled",
                "externalTrafficPolicy: Local; a firewall DROPs the healthCheckNodePort on every node.",
                LB_LOCAL, ["health-check-port-unreachable", "lb-unreachable"], firewall=_drop_health_port,
                lb_ingress=[{"ip": "127.0.0.54", "ipMode": "VIP"}], lb_answers=False),
    LabScenario("lab-lb-answering", "A load balancer address that answers.",
                LB, [], lb_ingress=[{"ip": "127.0.0.60", "ipMode": "VIP"}]),
    LabScenario("lab-lb-dropping", "A load balancer address whose port is dropped.",
                LB, ["lb-unreachable"], lb_ingress=[{"ip": "127.0.0.61", "ipMode": "VIP"}],
                firewall=_drop_lb("127.0.0.61")),
    LabScenario("lab-lb-hostname-unresolvable", "The load balancer hostname does not resolve.",
                LB, ["lb-address-unresolvable"],
                lb_ingress=[{"hostname": "k8s-shop-web-4f2a9c.elb.lab.test"}], dns={}),
    LabScenario("lab-lb-hostname-answering", "A cloud-style load balancer hostname that resolves and answers.",
                LB, [], lb_ingress=[{"hostname": "k8s-shop-api-9c1d3e.elb.lab.test"}],
                dns={"k8s-shop-api-9c1d3e.elb.lab.test": ["127.0.0.62"]}),
    LabScenario("lab-lb-source-ranges",
                "loadBalancerSourceRanges admit 203.0.113.0/24 only; the probing client is not in it.",
                {**LB, "loadBalancerSourceRanges": ["203.0.113.0/24"]},
                ["lb-source-ranges-exclude-client", "lb-unreachable"],
                lb_ingress=[{"ip": "127.0.0.63", "ipMode": "VIP"}], firewall=_drop_lb("127.0.0.63")),
    LabScenario("lab-external-name-ip", "ExternalName set to an IP literal.",
                {"type": "ExternalName", "externalName": "192.0.2.44"}, ["external-name-is-ip"], pod_nodes=()),
    LabScenario("lab-external-name-nxdomain", "ExternalName pointing at a name that does not exist.",
                {"type": "ExternalName", "externalName": "orders-db.missing.lab.test"},
                ["external-name-unresolvable"], pod_nodes=(), dns={}),
    LabScenario("lab-external-name-ok", "ExternalName pointing at a name that resolves.",
                {"type": "ExternalName", "externalName": "orders-db.lab.test"}, [], pod_nodes=(),
                dns={"orders-db.lab.test": ["127.0.0.70"]}),
]

BY_NAME = {s.name: s for s in SCENARIOS}


def prepare(lab: Any, cp: Any) -> None:
    for name, ip in NODES:
        cp.add_node(name, ip=ip)
    lab.backend(*BACKEND)


def reset(lab: Any) -> None:
    """Between scenarios: no rules, only the shared backend listening."""
    lab.flush()
    for listener in lab.listeners():
        if (listener.ip, listener.port) != BACKEND and listener.kind != "dns":
            lab.remove(listener)
