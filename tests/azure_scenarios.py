"""Scenarios of a Service's Azure load balancer, as cloud-provider-azure shapes it
(../shared/reference/cloud-lb-state.md §3): the shared ``kubernetes`` load balancer in the
node resource group, the Service's frontend IP configuration ``a<uid>``, its rule and probe
``a<uid>-TCP-<port>`` (for externalTrafficPolicy Local an HTTP probe on healthCheckNodePort
/healthz). Nodes are the instances of an AKS scale set on the real control plane (cluster
"azure-cloud"); Resource Manager is tests/azure_server.py.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

import aws_scenarios
from aws_scenarios import AwsScenario as Scenario
from azure_server import ArmServer

SUB, RG = "0b1f6471-1bf0-4dda-aec3-111122223333", "mc_shop_aks-shop_westeurope"
VMSS = "aks-nodepool1-12345678-vmss"
NODES = tuple(f"{VMSS}00000{i}" for i in range(3))
NODE_IPS = ("127.0.0.81", "127.0.0.82", "127.0.0.83")
SCALE_SET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/{VMSS}"
LB = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/kubernetes"
LB_IP = "20.50.60.70"


World = aws_scenarios.StandinWorld


@contextlib.contextmanager
def world(cp: Any, folder: Path) -> Iterator[World]:
    with ArmServer() as server:
        server.resources[LB.lower()] = {"name": "kubernetes", "id": LB, "type": "Microsoft.Network/loadBalancers",
                                        "location": "westeurope", "sku": {"name": "Standard"},
                                        "properties": {"frontendIPConfigurations": [], "loadBalancingRules": [],
                                                       "probes": [], "backendAddressPools": [
                                                           {"name": "kubernetes", "id": f"{LB}/backendAddressPools/kubernetes"}]}}
        for i, (name, ip) in enumerate(zip(NODES, NODE_IPS)):
            cp.add_node(name, ip=ip, provider_id=f"azure://{SCALE_SET}/virtualMachines/{i}",
                        labels={"topology.kubernetes.io/zone": f"westeurope-{i % 3 + 1}", "cloud": "azure"})
        yield World(cp, server, folder, NODES, "azure")


def shared_lb(w: World, sc: Scenario, svc: dict) -> str:
    """Add the Service's frontend, probe and rule to the shared load balancer."""
    name = ("a" + svc["metadata"]["uid"].replace("-", ""))[:32]
    props = w.server.resources[LB.lower()]["properties"]
    hc = svc["spec"].get("healthCheckNodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    rule, probe = f"{name}-TCP-80", f"{name}-TCP-{hc}" if hc else f"{name}-TCP-80"
    props["frontendIPConfigurations"].append({"name": name, "id": f"{LB}/frontendIPConfigurations/{name}",
                                              "properties": {"publicIPAddress": {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPAddresses/kubernetes-{name}"}}})
    props["probes"].append({"name": probe, "id": f"{LB}/probes/{probe}", "properties": {
        **({"protocol": "Http", "port": hc, "requestPath": "/healthz"} if hc else {"protocol": "Tcp", "port": node_port}),
        "intervalInSeconds": 5, "numberOfProbes": 2, "probeThreshold": 1}})
    props["loadBalancingRules"].append({"name": rule, "id": f"{LB}/loadBalancingRules/{rule}", "properties": {
        "frontendPort": 80, "backendPort": 80, "protocol": "Tcp", "enableFloatingIP": True, "idleTimeoutInMinutes": 4,
        "frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/{name}"},
        "probe": {"id": f"{LB}/probes/{probe}"}}})
    w.cp.kubectl("-n", sc.namespace, "patch", "svc", sc.service, "--subresource=status", "--type=merge",
                 "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": LB_IP, "ipMode": "VIP"}]}}}))
    return rule


def _addresses(states: list[str]) -> list[dict]:
    return [{"ipAddress": f"10.224.0.{4 + i}", "state": s,
             "networkInterfaceIPConfigurationId": f"{SCALE_SET}/virtualMachines/{i}/networkInterfaces/{VMSS}/ipConfigurations/ipconfig1"}
            for i, s in enumerate(states)]


def _healthy(w: World, sc: Scenario, svc: dict) -> dict:
    return {shared_lb(w, sc, svc): _addresses(["Up", "Up", "Up"])}


def _local_by_design(w: World, sc: Scenario, svc: dict) -> dict:
    return {shared_lb(w, sc, svc): _addresses(["Up", "Down", "Down"])}


def _all_down(w: World, sc: Scenario, svc: dict) -> dict:
    return {shared_lb(w, sc, svc): _addresses(["Down", "Down", "Down"])}


def _deleted(w: World, sc: Scenario, svc: dict) -> dict:
    """The Service's frontend was removed from the shared load balancer by hand."""
    shared_lb(w, sc, svc)
    props = w.server.resources[LB.lower()]["properties"]
    name = ("a" + svc["metadata"]["uid"].replace("-", ""))[:32]
    props["frontendIPConfigurations"] = [f for f in props["frontendIPConfigurations"] if f["name"] != name]
    return {}


def _denied(w: World, sc: Scenario, svc: dict) -> dict:
    return {shared_lb(w, sc, svc): _addresses(["Up", "Up", "Up"]), "__denied__": "health"}


SCENARIOS = [
    Scenario("azure-lb-healthy", "The shared load balancer, every node Up.", "az-ok", "web", _healthy, [], annotations={}),
    Scenario("azure-lb-local-by-design", "externalTrafficPolicy Local, both pods on one node: the others are Down by "
             "design.", "az-local", "api", _local_by_design, ["lb-targets-unhealthy", "local-policy-single-node"],
             annotations={}, local=True),
    Scenario("azure-lb-all-down", "Every node's probe on healthCheckNodePort fails.", "az-down", "shop", _all_down,
             ["lb-no-healthy-targets", "local-policy-single-node"], annotations={}, local=True),
    Scenario("azure-lb-frontend-deleted", "The Service's frontend IP configuration was deleted by hand.",
             "az-gone", "blog", _deleted, ["lb-not-found-in-cloud"], annotations={}),
    Scenario("azure-lb-health-denied", "svcdoctor's identity may read the load balancer but not its rules' health.",
             "az-denied", "pay", _denied, [], annotations={}),
]
BY_NAME = {s.name: s for s in SCENARIOS}



run = aws_scenarios.run
