"""Which network plugin runs, and whether it enforces NetworkPolicy, from the pods seen
(kube-system, and the plugin's own namespace when the evidence holds it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .. import kube
from ..kube import Obj


@dataclass(frozen=True)
class Plugin:
    name: str
    enforces: bool | None     # None: depends on its configuration
    note: str = ""


# (pod name prefix, plugin); the first match wins, so combinations come first.
PLUGINS = (
    ("canal-", Plugin("Canal (Calico policy on flannel)", True)),
    ("calico-node-", Plugin("Calico", True)),
    ("cilium-", Plugin("Cilium", True)),
    ("anetd-", Plugin("GKE Dataplane V2 (Cilium)", True)),
    ("antrea-agent-", Plugin("Antrea", True)),
    ("weave-net-", Plugin("Weave Net", True)),
    ("kube-router-", Plugin("kube-router", True)),
    ("azure-npm-", Plugin("Azure Network Policy Manager", True)),
    ("calico-typha-", Plugin("Calico", True)),
    ("aws-node-", Plugin("Amazon VPC CNI", None, "it enforces NetworkPolicy only with its network policy agent "
                                                 "enabled (aws-network-policy-agent container, VPC CNI 1.14+)")),
    ("kube-flannel-ds-", Plugin("flannel", False, "flannel provides connectivity only; it has no NetworkPolicy "
                                                  "support of its own")),
    ("kindnet-", Plugin("kindnet", None, "kindnet enforces NetworkPolicy only from kind v0.24 on")),
)


def detect(pods: Iterable[Obj]) -> Plugin | None:
    names = [kube.name(p) for p in pods if not kube.pod_finished(p)]
    for prefix, plugin in PLUGINS:
        for n in names:
            if n.startswith(prefix) and not n.startswith(("cilium-operator", "cilium-envoy")):
                if plugin.name == "Amazon VPC CNI" and _has_policy_agent(pods, n):
                    return Plugin("Amazon VPC CNI with its network policy agent", True)
                return plugin
    return None


def _has_policy_agent(pods: Iterable[Obj], name: str) -> bool:
    for p in pods:
        if kube.name(p) == name:
            return any(c.get("name") == "aws-network-policy-agent" for c in (p.get("spec") or {}).get("containers") or [])
    return False
