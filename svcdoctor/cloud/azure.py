"""Read a Service's Azure load balancer: the cluster's shared load balancer (``kubernetes``,
or ``kubernetes-internal``), the Service's frontend IP configuration and rules, and each
rule's backend health (``loadBalancingRules/{rule}/health``, a long-running operation).

Names (cloud-provider-azure, ../shared/reference/cloud-lb-state.md §3): frontend IP
configuration ``a<uid>`` (with ``-<subnet>`` or ``-IPv6`` suffixes), rules and probes
``a<uid>-<PROTOCOL>-<port>``; the load balancer lives in the node resource group, which the
nodes' providerID names (``azure:///subscriptions/<sub>/resourceGroups/<rg>/…``).

ARM REST over httpx, a token from azure-identity's DefaultAzureCredential
(``svcdoctor[azure]``). ``SVCDOCTOR_AZURE_ARM_ENDPOINT`` points at another cloud's Resource
Manager (e.g. https://management.chinacloudapi.cn). Read-only: GETs, and the rule-health
POST, which reads. Errors become data; the result has the shape of the AWS reader's.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from .. import kube
from ..kube import Obj
from ..redact import mask_accounts
from . import CloudOptions, Deadline, guarded
from .aws_names import default_name

ARM = "https://management.azure.com"
ENDPOINT_ENV = "SVCDOCTOR_AZURE_ARM_ENDPOINT"
API_VERSION = "2024-05-01"
INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal"
_RG = re.compile(r"^azure:///subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/", re.I)
PERMISSION = {"loadBalancers": "Microsoft.Network/loadBalancers/read",
              "health": "Microsoft.Network/loadBalancers/loadBalancingRules/health/action"}
MAX_RULES = 10
MAX_POLLS = 10


def node_group(provider_id: str) -> tuple[str, str] | None:
    m = _RG.match(provider_id)
    return (m["sub"], m["rg"]) if m else None


class _Calls:
    def __init__(self, options: CloudOptions) -> None:
        import httpx
        from azure.identity import DefaultAzureCredential

        self.base = (os.environ.get(ENDPOINT_ENV) or ARM).rstrip("/")
        token = DefaultAzureCredential().get_token(f"{self.base}/.default").token
        self.http = httpx.Client(timeout=options.call_timeout, headers={"Authorization": f"Bearer {token}"})
        self.end = time.monotonic() + options.deadline
        self.errors: list[dict[str, str]] = []
        self.calls = 0

    def __call__(self, path: str, post: bool = False, key: str = "loadBalancers") -> dict | None:
        import httpx

        if self.end - time.monotonic() <= 0.2:
            raise Deadline()
        url = f"{self.base}{path}?api-version={API_VERSION}"
        try:
            self.calls += 1
            resp = self.http.post(url, json={}) if post else self.http.get(url)
            polls = 0
            # A long-running operation: 202 and a Location to poll, a bounded number of times.
            while resp.status_code == 202 and resp.headers.get("Location") and polls < MAX_POLLS:
                if self.end - time.monotonic() <= 0.2:
                    raise Deadline()
                time.sleep(min(float(resp.headers.get("Retry-After") or 1), 2.0, max(self.end - time.monotonic(), 0)))
                polls += 1
                self.calls += 1
                resp = self.http.get(resp.headers["Location"])
        except httpx.HTTPError as exc:
            self.errors.append({"action": PERMISSION[key], "code": type(exc).__name__,
                                "message": mask_accounts(str(exc))[:300]})
            return None
        if resp.status_code == 404:
            return {"__not_found__": "NotFound"}
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400 or resp.status_code == 202:
            err = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else {}
            code = str(err.get("code") or resp.status_code)
            self.errors.append({"action": PERMISSION[key],
                                "code": "AccessDenied" if code == "AuthorizationFailed" else code,
                                "message": mask_accounts(str(err.get("message") or "the operation did not finish"))[:300]})
            return None
        return data if isinstance(data, dict) else {}


def read(service: Obj, nodes: dict[str, Obj], options: CloudOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"cloud": "azure", "errors": [], "controller": "in-tree", "target_type": "instance",
                           "lb_type": "azure"}
    groups = [g for n in nodes.values() if (g := node_group(str((n.get("spec") or {}).get("providerID") or "")))]
    if not groups:
        out["errors"].append({"action": "", "code": "NoResourceGroup", "message": "no node has an azure:// providerID"})
        return out
    sub, rg = groups[0]
    out["resource_group"] = rg
    return guarded(out, "Azure", "pip install 'svcdoctor[azure]'", lambda: _Calls(options),
                   lambda calls: _read(service, nodes, sub, rg, calls, out), options.deadline)


def _read(service: Obj, nodes: dict[str, Obj], sub: str, rg: str, call: _Calls, out: dict) -> None:
    internal = str((kube.meta(service).get("annotations") or {}).get(INTERNAL, "")).lower() == "true"
    lb_name = "kubernetes-internal" if internal else "kubernetes"
    prefix = default_name(service)
    out.update(looked_for=f"{lb_name}/{prefix}", found_by="name")
    path = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/loadBalancers/{lb_name}"
    lb = call(path)
    if lb is None:
        return
    props = lb.get("properties") or {}
    fronts = [f for f in props.get("frontendIPConfigurations") or [] if str(f.get("name", "")).startswith(prefix)]
    if "__not_found__" in lb or not fronts:
        out["found"] = False
        return
    out["found"] = True
    out["load_balancer"] = {"name": f"{lb_name}/{fronts[0].get('name')}", "type": "azure",
                            "scheme": "internal" if internal else "internet-facing", "state": "active"}
    rules = [r for r in props.get("loadBalancingRules") or [] if str(r.get("name", "")).startswith(prefix)]
    probes = {str(p.get("id", "")).lower(): p for p in props.get("probes") or []}
    out["listeners"] = [{"port": (r.get("properties") or {}).get("frontendPort"),
                         "protocol": (r.get("properties") or {}).get("protocol")} for r in rules]
    by_config = _nodes_by_ipconfig(nodes)
    groups = []
    for rule in rules[:MAX_RULES]:
        rp = rule.get("properties") or {}
        probe = (probes.get(str((rp.get("probe") or {}).get("id", "")).lower()) or {}).get("properties") or {}
        health = call(f"{path}/loadBalancingRules/{rule.get('name')}/health", post=True, key="health")
        targets = None
        if health is not None and "__not_found__" not in health:
            targets = []
            for a in health.get("loadBalancerBackendAddresses") or []:
                state = str(a.get("state") or "")
                node = _match(str(a.get("networkInterfaceIPConfigurationId") or ""), by_config)
                targets.append({"id": node or str(a.get("ipAddress") or ""),
                                "state": {"up": "HEALTHY", "down": "UNHEALTHY"}.get(state.lower(), state),
                                **({"description": "the health probe failed"
                                    + (f" ({probe.get('protocol')} port {probe.get('port')}"
                                       + (f" {probe['requestPath']}" if probe.get("requestPath") else "") + ")"
                                       if probe else "")
                                    + (f": {a['reason']}" if a.get("reason") else "")}
                                   if state.lower() == "down" else {})})
        groups.append({"name": rule.get("name"), "target_type": "instance", "targets": targets,
                       "health_check": {"protocol": probe.get("protocol"), "port": str(probe.get("port") or ""),
                                        "path": probe.get("requestPath")}})
    out["target_groups"] = groups


def _nodes_by_ipconfig(nodes: dict[str, Obj]) -> dict[str, str]:
    """A VM scale set instance's path (``…/virtualMachineScaleSets/<vmss>/virtualMachines/<i>``)
    → node name, from the providerID; a backend's ipConfiguration id starts with it."""
    out = {}
    for name, node in nodes.items():
        pid = str((node.get("spec") or {}).get("providerID") or "")
        if pid.lower().startswith("azure://"):
            out[pid[len("azure://"):].lower().rstrip("/")] = name
    return out


def _match(ipconfig: str, by_config: dict[str, str]) -> str | None:
    low = ipconfig.lower()
    for prefix, node in by_config.items():
        if low.startswith(prefix + "/"):
            return node
    return None
