"""Scenarios of a Service's GCP network load balancer (target pool), as cloud-provider-gcp
builds it (../shared/reference/cloud-lb-state.md §3): forwarding rule and target pool
``a<uid>``, an HttpHealthCheck (``a<uid>`` on healthCheckNodePort for externalTrafficPolicy
Local, else the shared ``k8s-<cluster>-node`` on 10256 /healthz), and the firewall rules
``k8s-fw-a<uid>`` (traffic) and ``k8s-<hc>-http-hc`` (Google's health-check ranges). The
Kubernetes side runs on the real control plane (cluster "gcp-cloud"), whose nodes carry the
instances' providerIDs; the Compute API is tests/gcp_server.py.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

import aws_scenarios
from aws_scenarios import AwsScenario as Scenario
from gcp_server import ComputeServer

PROJECT, REGION, CLUSTER_ID = "shop-prod-1234", "us-central1", "a1b2c3d4e5f6a7b8"
ZONES = ("us-central1-a", "us-central1-b", "us-central1-a")
INSTANCES = ("gke-shop-default-pool-1a2b3c4d-xk2p", "gke-shop-default-pool-5e6f7a8b-9fzt",
             "gke-shop-default-pool-1a2b3c4d-q7mw")
NODE_IPS = ("127.0.0.71", "127.0.0.72", "127.0.0.73")
NETWORK = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/shop-vpc"
NODE_TAG = "gke-shop-1a2b3c4d-node"
HC_RANGES = ["130.211.0.0/22", "35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"]
LB_IP = "34.123.45.67"


def _url(path: str) -> str:
    return f"https://www.googleapis.com/compute/v1/{path}"


World = aws_scenarios.StandinWorld


@contextlib.contextmanager
def world(cp: Any, folder: Path) -> Iterator[World]:
    with ComputeServer() as server:
        for name, zone, ip in zip(INSTANCES, ZONES, NODE_IPS):
            path = f"projects/{PROJECT}/zones/{zone}/instances/{name}"
            server.resources[path] = {
                "kind": "compute#instance", "name": name, "zone": _url(f"projects/{PROJECT}/zones/{zone}"),
                "status": "RUNNING", "tags": {"items": [NODE_TAG]}, "selfLink": _url(path),
                "networkInterfaces": [{"network": NETWORK, "networkIP": f"10.128.0.{INSTANCES.index(name) + 10}"}]}
            cp.add_node(name, ip=ip, provider_id=f"gce://{PROJECT}/{zone}/{name}",
                        labels={"topology.kubernetes.io/zone": zone, "cloud": "gcp"})
        yield World(cp, server, folder, INSTANCES, "gcp")


def _firewall(name: str, port: int, ranges: list[str]) -> dict:
    path = f"projects/{PROJECT}/global/firewalls/{name}"
    return path, {"kind": "compute#firewall", "name": name, "network": NETWORK, "direction": "INGRESS",
                  "priority": 1000, "sourceRanges": ranges, "targetTags": [NODE_TAG], "disabled": False,
                  "allowed": [{"IPProtocol": "tcp", "ports": [str(port)]}], "selfLink": _url(path)}


def netlb(w: World, sc: Scenario, svc: dict, *, hc_firewall: bool = True) -> str:
    """What cloud-provider-gcp creates for the Service; the name a<uid>."""
    uid = svc["metadata"]["uid"]
    name = ("a" + uid.replace("-", ""))[:32]
    hc_port = svc["spec"].get("healthCheckNodePort")
    hc_name = name if hc_port else f"k8s-{CLUSTER_ID}-node"
    regional = f"projects/{PROJECT}/regions/{REGION}"
    res = w.server.resources
    res[f"projects/{PROJECT}/global/httpHealthChecks/{hc_name}"] = {
        "kind": "compute#httpHealthCheck", "name": hc_name, "port": hc_port or 10256, "requestPath": "/healthz",
        "checkIntervalSec": 8, "timeoutSec": 1, "healthyThreshold": 1, "unhealthyThreshold": 3,
        "selfLink": _url(f"projects/{PROJECT}/global/httpHealthChecks/{hc_name}")}
    res[f"{regional}/targetPools/{name}"] = {
        "kind": "compute#targetPool", "name": name, "region": _url(regional), "sessionAffinity": "NONE",
        "description": json.dumps({"kubernetes.io/service-name": f"{sc.namespace}/{sc.service}"}),
        "instances": [_url(f"projects/{PROJECT}/zones/{z}/instances/{i}") for i, z in zip(INSTANCES, ZONES)],
        "healthChecks": [_url(f"projects/{PROJECT}/global/httpHealthChecks/{hc_name}")],
        "selfLink": _url(f"{regional}/targetPools/{name}"), "_ip": LB_IP}
    res[f"{regional}/forwardingRules/{name}"] = {
        "kind": "compute#forwardingRule", "name": name, "region": _url(regional), "IPAddress": LB_IP,
        "IPProtocol": "TCP", "portRange": "80-80", "loadBalancingScheme": "EXTERNAL", "networkTier": "PREMIUM",
        "target": _url(f"{regional}/targetPools/{name}"),
        "description": json.dumps({"kubernetes.io/service-name": f"{sc.namespace}/{sc.service}"}),
        "selfLink": _url(f"{regional}/forwardingRules/{name}")}
    path, fw = _firewall(f"k8s-fw-{name}", 80, ["0.0.0.0/0"])
    res[path] = fw
    if hc_firewall:
        path, fw = _firewall(f"k8s-{hc_name}-http-hc", hc_port or 10256, HC_RANGES)
        res[path] = fw
    w.cp.kubectl("-n", sc.namespace, "patch", "svc", sc.service, "--subresource=status", "--type=merge",
                 "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": LB_IP, "ipMode": "VIP"}]}}}))
    return name


def _healthy(w: World, sc: Scenario, svc: dict) -> dict:
    netlb(w, sc, svc)
    return {}


def _local_by_design(w: World, sc: Scenario, svc: dict) -> dict:
    netlb(w, sc, svc)
    return {INSTANCES[1]: "UNHEALTHY", INSTANCES[2]: "UNHEALTHY"}


def _firewall_missing(w: World, sc: Scenario, svc: dict) -> dict:
    """The health-check firewall rule was deleted: Google's probes never reach kube-proxy."""
    netlb(w, sc, svc, hc_firewall=False)
    return {i: "UNHEALTHY" for i in INSTANCES}


def _deleted(w: World, sc: Scenario, svc: dict) -> dict:
    name = netlb(w, sc, svc)
    del w.server.resources[f"projects/{PROJECT}/regions/{REGION}/forwardingRules/{name}"]
    return {}


def _denied(w: World, sc: Scenario, svc: dict) -> dict:
    netlb(w, sc, svc)
    return {"__denied__": "getHealth"}


SCENARIOS = [
    Scenario("gcp-netlb-healthy", "A GCE network load balancer (target pool), every node healthy.",
             "gcp-ok", "web", _healthy, [], annotations={}),
    Scenario("gcp-netlb-local-by-design", "externalTrafficPolicy Local, both pods on one node: the other two fail "
             "the health check on healthCheckNodePort, as designed.", "gcp-local", "api", _local_by_design,
             ["lb-targets-unhealthy", "local-policy-single-node"], annotations={}, local=True),
    Scenario("gcp-netlb-firewall-missing", "The health-check firewall rule is gone: every instance is UNHEALTHY.",
             "gcp-fw", "shop", _firewall_missing,
             ["lb-no-healthy-targets", "lb-security-group-blocks", "local-policy-single-node"],
             annotations={}, local=True),
    Scenario("gcp-netlb-deleted", "The forwarding rule was deleted by hand; the Service still shows its IP.",
             "gcp-gone", "blog", _deleted, ["lb-not-found-in-cloud"], annotations={}),
    Scenario("gcp-netlb-health-denied", "svcdoctor's identity may read the forwarding rule but not the target "
             "pool's health.", "gcp-denied", "pay", _denied, [], annotations={}),
]
BY_NAME = {s.name: s for s in SCENARIOS}



run = aws_scenarios.run
