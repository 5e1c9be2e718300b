"""How AWS names a Service's load balancer, and how to read AWS's names back. Pure.

Facts (../shared/reference/cloud-lb-state.md §1a): the in-tree / cloud-provider-aws
controller names a Classic ELB or NLB ``"a" + UID`` without dashes, cut to 32 characters
(``cloudprovider.DefaultLoadBalancerName``); the AWS Load Balancer Controller names it
``k8s-<ns>-<name>-<hash>`` with the cluster name in the hash, so it is found by the
``aws-load-balancer-name`` annotation, the status hostname or its tags. Hostnames follow
AWS's documented shapes, not an emulator's:

* NLB: ``<name>-<hex>.elb.<region>.amazonaws.com``
* ALB and Classic ELB: ``[internal-]<name>-<digits>.<region>.elb.amazonaws.com``
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import kube
from ..kube import Obj
from ..loadbalancers import AWS_LBC_CLASS, requested_class

ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"
_NLB_HOST = re.compile(r"^(?P<name>[a-zA-Z0-9-]+)-(?P<id>[0-9a-f]{16})\.elb\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_ELB_HOST = re.compile(r"^(?P<internal>internal-)?(?P<name>[a-zA-Z0-9-]+)-(?P<id>\d+)\.(?P<region>[a-z0-9-]+)"
                       r"\.elb\.amazonaws\.com(\.cn)?$")
_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")


def default_name(service: Obj) -> str:
    """The in-tree controller's name for the Service's load balancer."""
    return ("a" + str(kube.meta(service).get("uid") or "").replace("-", ""))[:32]


@dataclass(frozen=True)
class Hostname:
    name: str            # the load balancer's name, as DescribeLoadBalancers takes it
    region: str
    kind: str            # "network" | "application-or-classic"
    internal: bool


def parse_hostname(host: str) -> Hostname | None:
    host = host.lower().rstrip(".")
    m = _NLB_HOST.match(host)
    if m:
        return Hostname(m["name"], m["region"], "network", False)
    m = _ELB_HOST.match(host)
    if m:
        return Hostname(m["name"], m["region"], "application-or-classic", bool(m["internal"]))
    return None


def instance_id(provider_id: str) -> str | None:
    """``aws:///us-east-1a/i-0abc…`` (or ``aws:////i-…``, or a bare id) → ``i-0abc…``; the last
    path token, as cloud-provider-aws's MapToAWSInstanceID takes it. Fargate nodes have none."""
    token = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return token if _INSTANCE.match(token) else None


def zone(provider_id: str) -> str | None:
    parts = provider_id.split("/")
    return parts[3] if provider_id.startswith("aws:///") and len(parts) > 4 and parts[3] else None


@dataclass(frozen=True)
class Owner:
    controller: str      # "in-tree" | "lbc"
    lb_type: str         # "classic" | "network"
    target_type: str     # "instance" | "ip"


def owner(service: Obj) -> Owner:
    """Which controller builds the Service's load balancer, what kind, what targets."""
    ann = kube.meta(service).get("annotations") or {}
    lb_class, _how = requested_class(service)
    if lb_class == AWS_LBC_CLASS:
        target = "ip" if ann.get(ANNOTATION + "type") == "nlb-ip" else (ann.get(ANNOTATION + "nlb-target-type") or "instance")
        return Owner("lbc", "network", target)
    return Owner("in-tree", "network" if ann.get(ANNOTATION + "type") == "nlb" else "classic", "instance")
