"""The cloud's own view of a Service's load balancer: which cloud, and the options of a read.

Readers (``aws``, ``gcp``, ``azure``) sit at the edge: they talk to the cloud's API with
Describe/Get/List calls only, within a deadline, and return plain JSON-serialisable data
that goes into ``evidence.external[<cloud>]``, is recorded, and is replayed like probe
outcomes. Checks (svcdoctor/plugins/cloud_lb.py) read only that data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .. import shapes
from ..redact import mask_accounts

CLOUDS = ("aws", "gcp", "azure")
PROVIDER_PREFIXES = {"aws://": "aws", "gce://": "gcp", "azure://": "azure"}


@dataclass(frozen=True)
class CloudOptions:
    cloud: str | None = None        # "aws" | "gcp" | "azure" | "none"; None: from the nodes' providerID
    deadline: float = 15.0          # seconds for the whole read
    call_timeout: float = 5.0       # seconds per API call


class Deadline(Exception):
    """The reads' total deadline passed: raised between calls, never during one."""


def guarded(out: dict[str, Any], cloud_words: str, install: str, start: Callable[[], Any],
            body: Callable[[Any], None], deadline: float) -> dict[str, Any]:
    """Run a reader: ``start()`` gets the credentials and returns the calls object (with
    ``errors`` and ``calls``), ``body(calls)`` reads. A missing SDK, a credential that
    cannot be had, and the deadline all end as entries in ``out["errors"]``."""
    try:
        calls = start()
    except ImportError:
        out["errors"].append({"action": "", "code": "NotInstalled",
                              "message": f"the {cloud_words} client is not installed: {install}"})
        return out
    except Exception as exc:   # no credential in the chain, or the token request failed
        out["errors"].append({"action": "", "code": type(exc).__name__, "message": mask_accounts(str(exc))[:300]})
        return out
    try:
        body(calls)
    except Deadline:
        calls.errors.append({"action": "", "code": "Deadline",
                             "message": f"the {cloud_words} reads did not finish within {deadline:g}s"})
    except Exception as exc:   # credentials found late, an endpoint, an answer of an odd shape
        calls.errors.append({"action": "", "code": type(exc).__name__, "message": mask_accounts(str(exc))[:300]})
    out["errors"], out["calls"] = calls.errors, calls.calls
    return out


def detect(nodes: dict[str, Any]) -> str | None:
    """The cloud the nodes run in, from their providerID (set by the cloud provider)."""
    for node in nodes.values():
        pid = str((node.get("spec") or {}).get("providerID") or "")
        for prefix, cloud in PROVIDER_PREFIXES.items():
            if pid.startswith(prefix):
                return cloud
    return None


# The data the readers return, as recordings must hold it (svcdoctor.shapes): checks read
# these fields and may trust their types.
_ERRORS = [{"action": shapes.STR, "code": shapes.STR, "message": shapes.STR}]
_TARGET = {"id": shapes.STR, "port": shapes.INT, "zone": shapes.STR, "state": shapes.STR,
           "reason": shapes.STR, "description": shapes.STR}
AWS_SHAPE = {
    "cloud": shapes.STR, "region": shapes.STR, "controller": shapes.STR, "lb_type": shapes.STR,
    "target_type": shapes.STR, "looked_for": shapes.STR, "found_by": shapes.STR, "found": shapes.BOOL,
    "load_balancer": {"name": shapes.STR, "arn": shapes.STR, "type": shapes.STR, "scheme": shapes.STR,
                      "state": shapes.STR, "state_reason": shapes.STR, "dns_name": shapes.STR,
                      "security_groups": [shapes.STR], "subnets": [shapes.STR], "zones": [shapes.STR],
                      "health_check": {"target": shapes.STR}},
    "tags": shapes.STRMAP,
    "listeners": [{"port": shapes.INT, "protocol": shapes.STR, "instance_port": shapes.INT,
                   "target_groups": [shapes.STR]}],
    "target_groups": [{"arn": shapes.STR, "name": shapes.STR, "port": shapes.INT, "protocol": shapes.STR,
                       "target_type": shapes.STR,
                       "health_check": {"protocol": shapes.STR, "port": shapes.STR, "path": shapes.STR},
                       "targets": [_TARGET], "unread": shapes.INT}],   # unread: targets past the cap
    "instances": {},   # instance id → [security group ids], checked in the reader's terms below
    "node_security_groups": [{"id": shapes.STR, "name": shapes.STR,
                              "rules": [{"protocol": shapes.STR, "from": shapes.INT, "to": shapes.INT,
                                         "cidrs": [shapes.STR], "groups": [shapes.STR],
                                         "descriptions": [shapes.STR]}]}],
    "lb_subnet_cidrs": [shapes.STR],   # where health checks come from (AWS: LB subnets; GCP: Google's ranges)
    "network": shapes.STR, "target_tags": [shapes.STR],   # GCP: the nodes' VPC network and tags
    "resource_group": shapes.STR,                         # Azure: the node resource group
    "errors": _ERRORS, "calls": shapes.INT,
}
# Every reader returns this shape (GCP's target pool as a target group, its firewall rules
# as security groups), so the checks read every cloud alike.
EXTERNAL_SHAPE = {"aws": AWS_SHAPE, "gcp": AWS_SHAPE, "azure": AWS_SHAPE}
