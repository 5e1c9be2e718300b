"""Read a Service's AWS load balancer: the LB, its listeners, target groups and target
health (elbv2) or instance health (Classic ELB), and the nodes' security-group rules.

Read-only by construction: only Describe calls, through boto3's standard credential chain
(environment, shared config, instance or pod role). Bounded: a deadline for the whole
read, a timeout per call, capped pages. A call that fails becomes an entry in ``errors``
naming the IAM action (``elasticloadbalancing:DescribeTargetHealth``), never an exception;
the checks turn it into could-not-verify.

The result is plain data (the shape in :func:`read`), recorded and replayed as it is.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .. import kube
from ..kube import Obj
from ..redact import mask_accounts
from . import CloudOptions, Deadline, guarded
from .aws_names import default_name, instance_id, owner, parse_hostname, zone

MAX_TARGET_GROUPS = 10
MAX_LB_PAGES = 5          # × 400 load balancers, when only the DNS name can find it
MAX_INSTANCES = 200       # nodes whose security groups are read
SERVICE_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing", "ec2": "ec2"}


class _Calls:
    """boto3 clients behind one deadline; each failure is kept, named by its IAM action."""

    def __init__(self, region: str, options: CloudOptions) -> None:
        import boto3
        from botocore.config import Config

        self.errors: list[dict[str, str]] = []
        self.calls = 0
        self.end = time.monotonic() + options.deadline
        self.options = options
        self._session = boto3.session.Session(region_name=region)
        self._config = Config(connect_timeout=min(2.0, options.call_timeout), read_timeout=options.call_timeout,
                              retries={"max_attempts": 2, "mode": "standard"})
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str, operation: str, **params: Any) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.end - time.monotonic() <= 0.2:
            raise Deadline()   # a call may still run its own timeout past the deadline, not more
        if service not in self._clients:
            self._clients[service] = self._session.client(service, config=self._config)
        client = self._clients[service]
        self.calls += 1
        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        try:
            return getattr(client, method)(**params)
        except ClientError as exc:
            err = exc.response.get("Error") or {}
            code = str(err.get("Code") or "ClientError")
            if code in ("LoadBalancerNotFound", "AccessPointNotFound", "TargetGroupNotFound"):
                return {"__not_found__": code}
            self.errors.append({"action": f"{SERVICE_PREFIX[service]}:{operation}", "code": code,
                                "message": mask_accounts(str(err.get("Message") or exc))[:300]})
        except BotoCoreError as exc:
            self.errors.append({"action": f"{SERVICE_PREFIX[service]}:{operation}", "code": type(exc).__name__,
                                "message": mask_accounts(str(exc))[:300]})
        return None


def region_of(service: Obj, nodes: dict[str, Obj]) -> str | None:
    """The LB's region: from its hostname, else the environment, else the nodes' zones."""
    for ing in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        parsed = parse_hostname(str(ing.get("hostname") or ""))
        if parsed:
            return parsed.region
    env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if env:
        return env
    for node in nodes.values():
        z = zone(str((node.get("spec") or {}).get("providerID") or ""))
        if z:
            return z[:-1]   # us-east-1a → us-east-1
    return None


def read(service: Obj, nodes: dict[str, Obj], options: CloudOptions) -> dict[str, Any]:
    """The AWS view of the Service's load balancer::

        {"cloud": "aws", "region", "controller": "in-tree"|"lbc", "lb_type", "target_type",
         "looked_for": "a3f2…" | hostname, "found_by": "name"|"annotation"|"hostname"|"dns-scan",
         "found": True | False (looked everywhere it can be: it does not exist),
         "load_balancer": {name, arn, type, scheme, state, dns_name, security_groups, subnets,
                           health_check (classic)},
         "tags": {key: value}, "listeners": [{port, protocol, instance_port, target_groups}],
         "target_groups": [{arn, name, port, protocol, target_type, health_check: {protocol,
                            port, path}, targets: [{id, port, zone, state, reason, description}]}],
         "node_security_groups": [{id, name, rules: [{protocol, from, to, cidrs, groups,
                                   descriptions}]}], "instances": {instance id: [sg ids]},
         "lb_subnet_cidrs": [...], "errors": [{action, code, message}], "calls": n}
    """
    out: dict[str, Any] = {"cloud": "aws", "errors": []}
    region = region_of(service, nodes)
    if not region:
        out["errors"].append({"action": "", "code": "NoRegion", "message": "no AWS region: the Service has no AWS "
                              "hostname and AWS_REGION is not set"})
        return out
    own = owner(service)
    out.update(region=region, controller=own.controller, lb_type=own.lb_type, target_type=own.target_type)
    return guarded(out, "AWS", "pip install 'svcdoctor[aws]'", lambda: _Calls(region, options),
                   lambda calls: _read(service, nodes, own, calls, out), options.deadline)


def _read(service: Obj, nodes: dict[str, Obj], own: Any, call: _Calls, out: dict[str, Any]) -> None:
    ann = kube.meta(service).get("annotations") or {}
    hosts = [str(i.get("hostname")) for i in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
             if i.get("hostname")]
    if own.lb_type == "classic":
        name = default_name(service)
        out.update(looked_for=name, found_by="name")
        resp = call("elb", "DescribeLoadBalancers", LoadBalancerNames=[name])
        if resp is None:
            return
        if "__not_found__" in resp:
            out["found"] = False
            return
        _classic(resp["LoadBalancerDescriptions"][0], call, out)
    else:
        lb = _find_v2(service, own, ann, hosts, call, out)
        if lb is None:
            return
        _elbv2(lb, call, out)
    _node_security_groups(nodes, call, out)


def _find_v2(service: Obj, own: Any, ann: dict, hosts: list[str], call: _Calls, out: dict) -> dict | None:
    candidates: list[tuple[str, str]] = []
    if own.controller == "in-tree":
        candidates.append((default_name(service), "name"))
    elif ann.get("service.beta.kubernetes.io/aws-load-balancer-name"):
        candidates.append((ann["service.beta.kubernetes.io/aws-load-balancer-name"], "annotation"))
    for h in hosts:
        parsed = parse_hostname(h)
        if parsed and (parsed.name, "hostname") not in candidates:
            candidates.append((parsed.name, "hostname"))
    for name, how in candidates:
        out.update(looked_for=name, found_by=how)
        resp = call("elbv2", "DescribeLoadBalancers", Names=[name])
        if resp is None:
            return None
        if "__not_found__" not in resp and resp.get("LoadBalancers"):
            return resp["LoadBalancers"][0]
    if hosts:   # a hostname that is no known shape: the only way is to compare DNS names
        marker = None
        for _ in range(MAX_LB_PAGES):
            resp = call("elbv2", "DescribeLoadBalancers", **({"Marker": marker} if marker else {}), PageSize=400)
            if resp is None or "__not_found__" in resp:
                return None
            for lb in resp.get("LoadBalancers") or []:
                if str(lb.get("DNSName", "")).lower() in {h.lower() for h in hosts}:
                    out.update(looked_for=hosts[0], found_by="dns-scan")
                    return lb
            marker = resp.get("NextMarker")
            if not marker:
                break
    out["found"] = False
    return None


def _elbv2(lb: dict, call: _Calls, out: dict) -> None:
    arn = lb["LoadBalancerArn"]
    out["found"] = True
    out["load_balancer"] = {
        "name": lb.get("LoadBalancerName"), "arn": arn, "type": lb.get("Type"), "scheme": lb.get("Scheme"),
        "state": (lb.get("State") or {}).get("Code"), "state_reason": (lb.get("State") or {}).get("Reason"),
        "dns_name": lb.get("DNSName"), "security_groups": lb.get("SecurityGroups") or [],
        "subnets": [z.get("SubnetId") for z in lb.get("AvailabilityZones") or [] if z.get("SubnetId")],
        "zones": [z.get("ZoneName") for z in lb.get("AvailabilityZones") or [] if z.get("ZoneName")]}
    tags = call("elbv2", "DescribeTags", ResourceArns=[arn])
    if tags and "__not_found__" not in tags:
        out["tags"] = {t["Key"]: t.get("Value", "") for d in tags.get("TagDescriptions") or [] for t in d.get("Tags") or []}
    listeners = call("elbv2", "DescribeListeners", LoadBalancerArn=arn) or {}
    out["listeners"] = [{"port": li.get("Port"), "protocol": li.get("Protocol"),
                         "target_groups": [a.get("TargetGroupArn") for a in li.get("DefaultActions") or []
                                           if a.get("TargetGroupArn")]}
                        for li in listeners.get("Listeners") or []]
    groups = call("elbv2", "DescribeTargetGroups", LoadBalancerArn=arn) or {}
    out["target_groups"] = []
    for tg in (groups.get("TargetGroups") or [])[:MAX_TARGET_GROUPS]:
        entry = {"arn": tg["TargetGroupArn"], "name": tg.get("TargetGroupName"), "port": tg.get("Port"),
                 "protocol": tg.get("Protocol"), "target_type": tg.get("TargetType"),
                 "health_check": {"protocol": tg.get("HealthCheckProtocol"), "port": tg.get("HealthCheckPort"),
                                  "path": tg.get("HealthCheckPath")}, "targets": None}
        health = call("elbv2", "DescribeTargetHealth", TargetGroupArn=tg["TargetGroupArn"])
        if health is not None and "__not_found__" not in health:
            entry["targets"] = [{"id": d["Target"].get("Id"), "port": d["Target"].get("Port"),
                                 "zone": d["Target"].get("AvailabilityZone"),
                                 "state": (d.get("TargetHealth") or {}).get("State"),
                                 "reason": (d.get("TargetHealth") or {}).get("Reason"),
                                 "description": (d.get("TargetHealth") or {}).get("Description")}
                                for d in health.get("TargetHealthDescriptions") or []]
        out["target_groups"].append(entry)
    subnets = out["load_balancer"]["subnets"]
    if subnets:
        resp = call("ec2", "DescribeSubnets", SubnetIds=subnets) or {}
        out["lb_subnet_cidrs"] = sorted(s.get("CidrBlock") for s in resp.get("Subnets") or [] if s.get("CidrBlock"))


def _classic(lb: dict, call: _Calls, out: dict) -> None:
    name = lb["LoadBalancerName"]
    hc = lb.get("HealthCheck") or {}
    out["found"] = True
    out["load_balancer"] = {
        "name": name, "type": "classic", "scheme": lb.get("Scheme"), "state": "active",
        "dns_name": lb.get("DNSName"), "security_groups": lb.get("SecurityGroups") or [],
        "subnets": lb.get("Subnets") or [], "zones": lb.get("AvailabilityZones") or [],
        "health_check": {"target": hc.get("Target")}}
    tags = call("elb", "DescribeTags", LoadBalancerNames=[name])
    if tags and "__not_found__" not in tags:
        out["tags"] = {t["Key"]: t.get("Value", "") for d in tags.get("TagDescriptions") or [] for t in d.get("Tags") or []}
    out["listeners"] = [{"port": (d.get("Listener") or {}).get("LoadBalancerPort"),
                         "protocol": (d.get("Listener") or {}).get("Protocol"),
                         "instance_port": (d.get("Listener") or {}).get("InstancePort")}
                        for d in lb.get("ListenerDescriptions") or []]
    target, _, rest = str(hc.get("Target") or "").partition(":")
    port, _, path = rest.partition("/")
    health = call("elb", "DescribeInstanceHealth", LoadBalancerName=name)
    targets = None
    if health is not None and "__not_found__" not in health:
        targets = [{"id": s.get("InstanceId"), "port": out["listeners"][0]["instance_port"] if out["listeners"] else None,
                    "state": s.get("State"), "reason": s.get("ReasonCode"), "description": s.get("Description")}
                   for s in health.get("InstanceStates") or []]
    out["target_groups"] = [{"name": name, "port": out["listeners"][0]["instance_port"] if out["listeners"] else None,
                             "protocol": out["listeners"][0]["protocol"] if out["listeners"] else None,
                             "target_type": "instance",
                             "health_check": {"protocol": target or None, "port": port or None,
                                              "path": ("/" + path) if path else None},
                             "targets": targets}]


def _node_security_groups(nodes: dict[str, Obj], call: _Calls, out: dict) -> None:
    ids = sorted({i for n in nodes.values()
                  if (i := instance_id(str((n.get("spec") or {}).get("providerID") or "")))})[:MAX_INSTANCES]
    if not ids:
        return
    resp = call("ec2", "DescribeInstances", InstanceIds=ids)
    if resp is None:
        return
    instances: dict[str, list[str]] = {}
    for res in resp.get("Reservations") or []:
        for inst in res.get("Instances") or []:
            instances[inst["InstanceId"]] = sorted({g["GroupId"] for g in inst.get("SecurityGroups") or []})
    out["instances"] = instances
    groups = sorted({g for gs in instances.values() for g in gs})
    if not groups:
        return
    resp = call("ec2", "DescribeSecurityGroups", GroupIds=groups)
    if resp is None:
        return
    out["node_security_groups"] = [
        {"id": g["GroupId"], "name": g.get("GroupName"),
         "rules": [{"protocol": p.get("IpProtocol"), "from": p.get("FromPort"), "to": p.get("ToPort"),
                    "cidrs": [r.get("CidrIp") for r in p.get("IpRanges") or []],
                    "groups": [u.get("GroupId") for u in p.get("UserIdGroupPairs") or []],
                    "descriptions": [r.get("Description") for r in (p.get("IpRanges") or []) + (p.get("UserIdGroupPairs") or [])
                                     if r.get("Description")]}
                   for p in g.get("IpPermissions") or []]}
        for g in resp.get("SecurityGroups") or []]

