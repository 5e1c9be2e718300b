"""Read a Service's GCP load balancer: the forwarding rule, its target pool (instances and
their health, ``targetPools.getHealth``) or backend service (``regionBackendServices.getHealth``),
the health check, and the VPC firewall rules that decide whether Google's health checks
reach the nodes.

Names (cloud-provider-gcp, ../shared/reference/cloud-lb-state.md §3): the forwarding rule and
the target pool or backend service are ``a`` + the Service UID without dashes (32 characters);
GKE's L4 controllers write theirs onto the Service (``service.kubernetes.io/tcp-forwarding-rule``,
``…/backend-service``). Project and zone come from the nodes' providerID
(``gce://<project>/<zone>/<instance>``).

Compute REST API over httpx, Application Default Credentials through google-auth
(``svcdoctor[gcp]``); gcloud's own endpoint override ``CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE``
is honoured. Read-only: GETs, and the two getHealth POSTs, which read. Errors become data.
The result has the shape of the AWS reader's (svcdoctor.cloud.AWS_SHAPE), so the checks
read both alike.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .. import kube
from ..kube import Obj
from ..redact import mask_accounts
from . import CloudOptions, Deadline, guarded
from .aws_names import default_name

COMPUTE = "https://compute.googleapis.com/compute/v1/"
ENDPOINT_ENV = "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"
SCOPE = "https://www.googleapis.com/auth/compute.readonly"
# Google's health-check sources (cloud-provider-gcp l4LbSrcRngsFlag; GCP docs per LB type).
HC_RANGES = {"target-pool": ["35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"],
             "backend-service": ["35.191.0.0/16", "130.211.0.0/22"]}
MAX_INSTANCES = 50
MAX_FIREWALL_PAGES = 5
ANNOTATION = "service.kubernetes.io/"
# The permission each call needs (Compute Engine IAM), named when it is denied.
PERMISSION = {"forwardingRules": "compute.forwardingRules.get", "targetPools": "compute.targetPools.get",
              "getHealth": "compute.targetPools.get", "backendServices": "compute.regionBackendServices.get",
              "httpHealthChecks": "compute.httpHealthChecks.get", "healthChecks": "compute.healthChecks.get",
              "firewalls": "compute.firewalls.list", "instances": "compute.instances.get"}


def parse_provider_id(provider_id: str) -> tuple[str, str, str] | None:
    """``gce://project/zone/instance`` → (project, zone, instance)."""
    if not provider_id.startswith("gce://"):
        return None
    parts = provider_id[len("gce://"):].split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


class _Calls:
    def __init__(self, options: CloudOptions) -> None:
        import google.auth
        import google.auth.transport.requests
        import httpx

        creds, _project = google.auth.default(scopes=[SCOPE])
        creds.refresh(google.auth.transport.requests.Request())
        self.base = (os.environ.get(ENDPOINT_ENV) or COMPUTE).rstrip("/") + "/"
        self.http = httpx.Client(timeout=options.call_timeout, headers={"Authorization": f"Bearer {creds.token}"})
        self.end = time.monotonic() + options.deadline
        self.errors: list[dict[str, str]] = []
        self.calls = 0

    def __call__(self, path: str, body: dict | None = None, permission_key: str = "") -> dict | None:
        """GET (or POST ``body``) ``path`` under the Compute API; None on failure (kept in
        ``errors``), ``{"__not_found__": …}`` on 404."""
        import httpx

        if self.end - time.monotonic() <= 0.2:
            raise Deadline()
        self.calls += 1
        key = permission_key or next((k for k in PERMISSION if f"/{k}" in "/" + path), "")
        try:
            resp = self.http.post(self.base + path, json=body) if body is not None else self.http.get(self.base + path)
        except httpx.HTTPError as exc:
            self.errors.append({"action": PERMISSION.get(key, ""), "code": type(exc).__name__,
                                "message": mask_accounts(str(exc))[:300]})
            return None
        if resp.status_code == 404:
            return {"__not_found__": "notFound"}
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400:
            err = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else {}
            reason = next((e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)), None)
            self.errors.append({"action": PERMISSION.get(key, ""),
                                "code": "AccessDenied" if resp.status_code == 403 else str(reason or resp.status_code),
                                "message": mask_accounts(str(err.get("message") or resp.text))[:300]})
            return None
        return data if isinstance(data, dict) else {}


def read(service: Obj, nodes: dict[str, Obj], options: CloudOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"cloud": "gcp", "errors": [], "controller": "in-tree", "target_type": "instance"}
    located = [p for n in nodes.values() if (p := parse_provider_id(str((n.get("spec") or {}).get("providerID") or "")))]
    if not located:
        out["errors"].append({"action": "", "code": "NoProject", "message": "no node has a gce:// providerID"})
        return out
    project, zone, _ = located[0]
    region = zone.rsplit("-", 1)[0]
    out["region"] = region
    return guarded(out, "GCP", "pip install 'svcdoctor[gcp]'", lambda: _Calls(options),
                   lambda calls: _read(service, nodes, project, region, calls, out), options.deadline)


def _read(service: Obj, nodes: dict[str, Obj], project: str, region: str, call: _Calls, out: dict) -> None:
    ann = kube.meta(service).get("annotations") or {}
    name = ann.get(ANNOTATION + "tcp-forwarding-rule") or ann.get(ANNOTATION + "udp-forwarding-rule") or default_name(service)
    out.update(looked_for=name, found_by="annotation" if name != default_name(service) else "name")
    regional = f"projects/{project}/regions/{region}"
    fwd = call(f"{regional}/forwardingRules/{name}")
    if fwd is None:
        return
    if "__not_found__" in fwd:
        out["found"] = False
        return
    out["found"] = True
    target, backend = str(fwd.get("target") or ""), str(fwd.get("backendService") or "")
    kind = "target-pool" if target else "backend-service"
    out["lb_type"] = kind
    out["load_balancer"] = {"name": fwd.get("name"), "type": kind, "scheme": fwd.get("loadBalancingScheme"),
                            "state": "active", "dns_name": fwd.get("IPAddress")}
    ports = [int(p) for p in fwd.get("ports") or [] if str(p).isdigit()]
    port_range = str(fwd.get("portRange") or "")
    if not ports and "-" in port_range:
        lo, hi = port_range.split("-", 1)
        ports = [int(lo)] if lo == hi and lo.isdigit() else []
    out["listeners"] = [{"port": p, "protocol": fwd.get("IPProtocol")} for p in ports]
    if kind == "target-pool":
        _target_pool(target.rsplit("/", 1)[-1], regional, fwd, call, out)
    else:
        _backend_service(backend.rsplit("/", 1)[-1], regional, call, out)
    _firewalls(project, nodes, call, out)


def _health_check(url: str, call: _Calls) -> dict[str, Any]:
    """A health check by its URL: (legacy) httpHealthChecks or healthChecks."""
    path = url.split("/compute/v1/", 1)[-1] if "/compute/v1/" in url else url
    hc = call(path)
    if not hc or "__not_found__" in hc:
        return {}
    for key, proto in (("httpHealthCheck", "HTTP"), ("httpsHealthCheck", "HTTPS"), ("tcpHealthCheck", "TCP")):
        if isinstance(hc.get(key), dict):
            return {"protocol": proto, "port": str(hc[key].get("port") or ""), "path": hc[key].get("requestPath")}
    return {"protocol": "HTTP", "port": str(hc.get("port") or ""), "path": hc.get("requestPath")}


def _target_pool(name: str, regional: str, fwd: dict, call: _Calls, out: dict) -> None:
    pool = call(f"{regional}/targetPools/{name}")
    if pool is None or "__not_found__" in pool:
        out["target_groups"] = [{"name": name, "target_type": "instance", "targets": [] if pool else None}]
        return
    hc = _health_check(str((pool.get("healthChecks") or [""])[0]), call) if pool.get("healthChecks") else {}
    targets = []
    for url in (pool.get("instances") or [])[:MAX_INSTANCES]:
        health = call(f"{regional}/targetPools/{name}/getHealth", body={"instance": url}, permission_key="getHealth")
        if health is None:
            targets = None
            break
        states = [h.get("healthState") for h in health.get("healthStatus") or [] if isinstance(h, dict)]
        state = "HEALTHY" if states and all(s == "HEALTHY" for s in states) else (states[0] if states else "UNKNOWN")
        targets.append({"id": str(url).rsplit("/", 1)[-1], "state": state,
                        **({"description": "the health check failed"
                            + (f" ({hc.get('protocol')} port {hc.get('port')} {hc.get('path') or ''})".rstrip()
                               if hc else "")} if state == "UNHEALTHY" else {})})
    unread = max(len(pool.get("instances") or []) - MAX_INSTANCES, 0)
    out["target_groups"] = [{"name": name, "target_type": "instance", "health_check": hc, "targets": targets,
                             **({"unread": unread} if unread else {})}]


def _backend_service(name: str, regional: str, call: _Calls, out: dict) -> None:
    bs = call(f"{regional}/backendServices/{name}")
    if bs is None or "__not_found__" in bs:
        out["target_groups"] = [{"name": name, "target_type": "instance", "targets": [] if bs else None}]
        return
    hc = _health_check(str((bs.get("healthChecks") or [""])[0]), call) if bs.get("healthChecks") else {}
    targets: list[dict] | None = []
    for backend in (bs.get("backends") or [])[:10]:
        health = call(f"{regional}/backendServices/{name}/getHealth", body={"group": backend.get("group")},
                      permission_key="backendServices")
        if health is None:
            targets = None
            break
        for h in health.get("healthStatus") or []:
            state = h.get("healthState") or "UNKNOWN"
            targets.append({"id": str(h.get("instance") or h.get("ipAddress") or "").rsplit("/", 1)[-1], "state": state,
                            **({"description": "the health check failed"} if state == "UNHEALTHY" else {})})
    out["target_groups"] = [{"name": name, "target_type": "instance", "health_check": hc, "targets": targets}]


def _firewalls(project: str, nodes: dict[str, Obj], call: _Calls, out: dict) -> None:
    """The ingress firewall rules of the nodes' network that apply to the nodes (by target
    tag, or to every instance): as the AWS reader's security groups, one per rule."""
    located = [p for n in nodes.values() if (p := parse_provider_id(str((n.get("spec") or {}).get("providerID") or "")))]
    first = call(f"projects/{project}/zones/{located[0][1]}/instances/{located[0][2]}") if located else None
    if not first or "__not_found__" in first:
        return
    tags = set((first.get("tags") or {}).get("items") or [])
    network = str(((first.get("networkInterfaces") or [{}])[0]).get("network") or "")
    rules, token = [], ""
    for _ in range(MAX_FIREWALL_PAGES):
        page = call(f"projects/{project}/global/firewalls" + (f"?pageToken={token}" if token else ""))
        if page is None or "__not_found__" in page:
            return
        rules += [r for r in page.get("items") or [] if isinstance(r, dict)]
        token = str(page.get("nextPageToken") or "")
        if not token:
            break
    groups = []
    for r in rules:
        if r.get("direction", "INGRESS") != "INGRESS" or r.get("disabled") or (network and r.get("network") != network):
            continue
        if r.get("targetTags") and not tags & set(r["targetTags"]):
            continue
        entries = []
        for allowed in r.get("allowed") or []:
            proto = str(allowed.get("IPProtocol") or "")
            for port in allowed.get("ports") or [None]:
                lo, _, hi = str(port or "0-65535").partition("-")
                entries.append({"protocol": "-1" if proto == "all" else proto, "from": int(lo), "to": int(hi or lo),
                                "cidrs": list(r.get("sourceRanges") or [])})
        groups.append({"id": r.get("name"), "name": r.get("name"), "rules": entries})
    out["node_security_groups"] = groups
    out["instances"] = {str(p[2]): [g["id"] for g in groups] for p in located}
    out["lb_subnet_cidrs"] = HC_RANGES[str(out.get("lb_type") or "target-pool")]
    out["network"] = network.rsplit("/", 1)[-1]
    out["target_tags"] = sorted(tags)
