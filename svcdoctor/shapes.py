"""The shapes checks rely on, enforced once where objects enter svcdoctor.

Every source (recording, kubectl List or JSON stream, cluster-info dump, live cluster)
passes its objects through :func:`conform` before building Evidence, so checks may trust
that ``spec.ports`` is a list of mappings and ``containerPort`` an integer. A wrong type is
reported as one line naming the first bad object and field::

    items[12] Pod shop/web-1: spec.containers[0].ports is a string (expected a list)

A shape is a type token (``STR``, ``INT``…), a mapping of known keys to shapes (other keys
are not checked: newer API versions add fields), or a one-element list ``[shape]`` for "a
list of". ``null`` counts as absent, as it does for the API server, and is dropped.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any

# Leaf types.
STR, INT, BOOL, NUMBER, INT_OR_STR, TIME, STRMAP, ANY = (
    "string", "integer", "boolean", "number", "integer or string", "timestamp",
    "map of strings", "any")

SELECTOR = {"matchLabels": STRMAP,
            "matchExpressions": [{"key": STR, "operator": STR, "values": [STR]}]}
OBJECT_REF = {"apiVersion": STR, "kind": STR, "name": STR, "namespace": STR, "uid": STR,
              "fieldPath": STR, "resourceVersion": STR}
CONDITIONS = [{"type": STR, "status": STR, "reason": STR, "message": STR,
               "lastTransitionTime": TIME, "lastHeartbeatTime": TIME, "lastProbeTime": TIME,
               "lastUpdateTime": TIME}]
METADATA = {
    "name": STR, "namespace": STR, "uid": STR, "resourceVersion": STR, "generateName": STR,
    "labels": STRMAP, "annotations": STRMAP,
    "creationTimestamp": TIME, "deletionTimestamp": TIME, "deletionGracePeriodSeconds": INT,
    "ownerReferences": [{"apiVersion": STR, "kind": STR, "name": STR, "uid": STR, "controller": BOOL}],
    "managedFields": [{"manager": STR, "operation": STR, "time": TIME, "subresource": STR}],
}
COMMON = {"apiVersion": STR, "kind": STR, "metadata": METADATA,
          "status": {"conditions": CONDITIONS}}

_PROBE = {"httpGet": {"port": INT_OR_STR, "path": STR}, "tcpSocket": {"port": INT_OR_STR},
          "grpc": {"port": INT}}
_CONTAINER = {
    "name": STR, "image": STR, "command": [STR], "args": [STR], "restartPolicy": STR,
    "ports": [{"name": STR, "containerPort": INT, "protocol": STR, "hostPort": INT, "hostIP": STR}],
    "readinessProbe": _PROBE, "livenessProbe": _PROBE, "startupProbe": _PROBE,
    "resources": {"limits": STRMAP, "requests": STRMAP},
}
_STATE = {"waiting": {"reason": STR, "message": STR},
          "running": {"startedAt": TIME},
          "terminated": {"reason": STR, "message": STR, "exitCode": INT, "signal": INT,
                         "startedAt": TIME, "finishedAt": TIME}}
_CONTAINER_STATUS = [{"name": STR, "ready": BOOL, "started": BOOL, "restartCount": INT,
                      "state": _STATE, "lastState": _STATE}]
_ADDRESS = {"ip": STR, "hostname": STR, "nodeName": STR, "targetRef": OBJECT_REF}
_ADVERTISEMENT = {"spec": {"ipAddressPools": [STR], "ipAddressPoolSelectors": [SELECTOR],
                           "nodeSelectors": [SELECTOR], "interfaces": [STR], "peers": [STR]}}

_INGRESS_BACKEND = {"service": {"name": STR, "port": {"name": STR, "number": INT}},
                    "resource": {"apiGroup": STR, "kind": STR, "name": STR}}
_LB_STATUS = {"loadBalancer": {"ingress": [{"ip": STR, "hostname": STR}]}}
_PARENT_REF = {"group": STR, "kind": STR, "namespace": STR, "name": STR, "sectionName": STR, "port": INT}
_BACKEND_REF = {"group": STR, "kind": STR, "namespace": STR, "name": STR, "port": INT, "weight": INT}
_ROUTE_STATUS = {"parents": [{"parentRef": _PARENT_REF, "controllerName": STR, "conditions": CONDITIONS}]}


_NETPOL_PEER = {"podSelector": SELECTOR, "namespaceSelector": SELECTOR,
                "ipBlock": {"cidr": STR, "except": [STR]}}
_NETPOL_PORT = {"protocol": STR, "port": INT_OR_STR, "endPort": INT}


_ADMIN_POLICY = {"spec": {"subject": {"namespaces": SELECTOR,
                                       "pods": {"namespaceSelector": SELECTOR, "podSelector": SELECTOR}}}}


def _route(rule: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"parentRefs": [_PARENT_REF], "hostnames": [STR],
                     "rules": [{"backendRefs": [_BACKEND_REF], **rule}]},
            "status": _ROUTE_STATUS}


KINDS: dict[str, dict[str, Any]] = {
    "Service": {
        "spec": {
            "type": STR, "selector": STRMAP, "clusterIP": STR, "clusterIPs": [STR],
            "ports": [{"name": STR, "port": INT, "targetPort": INT_OR_STR, "protocol": STR,
                       "nodePort": INT, "appProtocol": STR}],
            "externalTrafficPolicy": STR, "internalTrafficPolicy": STR, "healthCheckNodePort": INT,
            "loadBalancerIP": STR, "loadBalancerClass": STR, "loadBalancerSourceRanges": [STR],
            "externalName": STR, "externalIPs": [STR], "publishNotReadyAddresses": BOOL,
            "ipFamilies": [STR], "ipFamilyPolicy": STR, "allocateLoadBalancerNodePorts": BOOL,
            "sessionAffinity": STR,
        },
        "status": {"loadBalancer": {"ingress": [{"ip": STR, "hostname": STR, "ipMode": STR}]}},
    },
    "Pod": {
        "spec": {"containers": [_CONTAINER], "initContainers": [_CONTAINER], "nodeName": STR,
                 "nodeSelector": STRMAP, "hostNetwork": BOOL, "terminationGracePeriodSeconds": INT,
                 "readinessGates": [{"conditionType": STR}],
                 "tolerations": [{"key": STR, "operator": STR, "value": STR, "effect": STR}]},
        "status": {"phase": STR, "podIP": STR, "hostIP": STR, "podIPs": [{"ip": STR}],
                   "startTime": TIME, "containerStatuses": _CONTAINER_STATUS,
                   "initContainerStatuses": _CONTAINER_STATUS, "reason": STR, "message": STR},
    },
    "EndpointSlice": {
        "addressType": STR,
        "endpoints": [{"addresses": [STR], "nodeName": STR, "zone": STR, "hostname": STR,
                       "targetRef": OBJECT_REF,
                       "conditions": {"ready": BOOL, "serving": BOOL, "terminating": BOOL}}],
        "ports": [{"name": STR, "port": INT, "protocol": STR, "appProtocol": STR}],
    },
    "Endpoints": {
        "subsets": [{"addresses": [_ADDRESS], "notReadyAddresses": [_ADDRESS],
                     "ports": [{"name": STR, "port": INT, "protocol": STR}]}],
    },
    "Event": {
        "involvedObject": OBJECT_REF, "regarding": OBJECT_REF, "related": OBJECT_REF,
        "reason": STR, "message": STR, "note": STR, "type": STR, "action": STR,
        "count": INT, "deprecatedCount": INT,
        "series": {"count": INT, "lastObservedTime": TIME},
        "source": {"component": STR, "host": STR}, "deprecatedSource": {"component": STR, "host": STR},
        "reportingComponent": STR, "reportingController": STR, "reportingInstance": STR,
        "firstTimestamp": TIME, "lastTimestamp": TIME, "eventTime": TIME,
        "deprecatedFirstTimestamp": TIME, "deprecatedLastTimestamp": TIME,
    },
    "Node": {
        "spec": {"providerID": STR, "unschedulable": BOOL, "podCIDR": STR,
                 "taints": [{"key": STR, "value": STR, "effect": STR, "timeAdded": TIME}]},
        "status": {"addresses": [{"type": STR, "address": STR}],
                   "nodeInfo": {"kubeletVersion": STR, "kubeProxyVersion": STR}},
    },
    "IPAddressPool": {
        "spec": {"addresses": [STR], "autoAssign": BOOL, "avoidBuggyIPs": BOOL,
                 "serviceAllocation": {"priority": INT, "namespaces": [STR],
                                       "namespaceSelectors": [SELECTOR],
                                       "serviceSelectors": [SELECTOR]}},
        "status": {"availableIPv4": INT, "availableIPv6": INT, "assignedIPv4": INT,
                   "assignedIPv6": INT},
    },
    "L2Advertisement": _ADVERTISEMENT,
    "BGPAdvertisement": _ADVERTISEMENT,
    "Ingress": {
        "spec": {"ingressClassName": STR, "defaultBackend": _INGRESS_BACKEND,
                 "rules": [{"host": STR, "http": {"paths": [{"path": STR, "pathType": STR,
                                                             "backend": _INGRESS_BACKEND}]}}],
                 "tls": [{"hosts": [STR], "secretName": STR}]},
        "status": _LB_STATUS,
    },
    "IngressClass": {"spec": {"controller": STR}},
    "GatewayClass": {"spec": {"controllerName": STR}},
    "Gateway": {
        "spec": {"gatewayClassName": STR,
                 "listeners": [{"name": STR, "hostname": STR, "port": INT, "protocol": STR,
                                "allowedRoutes": {"namespaces": {"from": STR, "selector": SELECTOR},
                                                  "kinds": [{"group": STR, "kind": STR}]}}]},
        "status": {"addresses": [{"type": STR, "value": STR}],
                   "listeners": [{"name": STR, "attachedRoutes": INT, "conditions": CONDITIONS}]},
    },
    "HTTPRoute": _route({"matches": [{"path": {"type": STR, "value": STR}}]}),
    "GRPCRoute": _route({}),
    "TLSRoute": _route({}),
    "TCPRoute": _route({}),
    "NetworkPolicy": {"spec": {
        "podSelector": SELECTOR, "policyTypes": [STR],
        "ingress": [{"from": [_NETPOL_PEER], "ports": [_NETPOL_PORT]}],
        "egress": [{"to": [_NETPOL_PEER], "ports": [_NETPOL_PORT]}]}},
    "APIGroup": {"name": STR, "versions": [{"groupVersion": STR, "version": STR}],
                 "preferredVersion": {"groupVersion": STR, "version": STR}},
    "CiliumNetworkPolicy": {"spec": {"endpointSelector": SELECTOR}, "specs": [{"endpointSelector": SELECTOR}]},
    "CiliumClusterwideNetworkPolicy": {"spec": {"endpointSelector": SELECTOR},
                                       "specs": [{"endpointSelector": SELECTOR}]},
    "GlobalNetworkPolicy": {"spec": {"selector": STR, "namespaceSelector": STR}},
    "AdminNetworkPolicy": _ADMIN_POLICY,
    "BaselineAdminNetworkPolicy": _ADMIN_POLICY,
    "ClusterNetworkPolicy": _ADMIN_POLICY,
    "ReferenceGrant": {"spec": {"from": [{"group": STR, "kind": STR, "namespace": STR}],
                                "to": [{"group": STR, "kind": STR, "name": STR}]}},
}

_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
               list: "a list", dict: "a mapping"}


class ShapeError(ValueError):
    """``str(err)`` is ``field is a X (expected a Y)``; ``path`` is the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'the object'} {message}")
        self.path = path


def conform(obj: Any, shape: Any = None, path: str = "") -> Any:
    """``obj`` with nulls dropped and YAML timestamps as strings, if it has ``shape``
    (by default: the shape of its kind); raises :class:`ShapeError` at the first field
    that does not."""
    if shape is None:
        if not isinstance(obj, dict):
            raise ShapeError(path, f"is {describe(obj)} (expected a Kubernetes object)")
        kind = obj.get("kind")
        shape = _kind_shape(kind if isinstance(kind, str) and kind in KINDS else "")
    try:
        return _walk(obj, shape, path)
    except RecursionError:
        raise ShapeError(path, "is nested too deeply") from None


def _walk(value: Any, shape: Any, path: str) -> Any:
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ShapeError(path, f"is {describe(value)} (expected a mapping)")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ShapeError(path, f"has a key {key!r} that is not a string")
            if item is None:
                continue
            sub = f"{path}.{key}" if path else key
            out[key] = _walk(item, shape[key], sub) if key in shape else _plain(item, sub)
        return out
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise ShapeError(path, f"is {describe(value)} (expected a list)")
        out_list = []
        for i, item in enumerate(value):
            if item is None:
                raise ShapeError(f"{path}[{i}]", "is null")
            out_list.append(_walk(item, shape[0], f"{path}[{i}]"))
        return out_list
    return _leaf(value, shape, path)


def _leaf(value: Any, shape: str, path: str) -> Any:
    if shape == TIME and isinstance(value, (datetime, date)):
        return _iso(value)  # unquoted in hand-written YAML
    ok = {
        STR: isinstance(value, str),
        INT: isinstance(value, int) and not isinstance(value, bool),
        BOOL: isinstance(value, bool),
        NUMBER: isinstance(value, (int, float)) and not isinstance(value, bool),
        INT_OR_STR: isinstance(value, (int, str)) and not isinstance(value, bool),
        TIME: isinstance(value, str),
        ANY: True,
    }.get(shape)
    if shape == STRMAP:
        if not isinstance(value, dict):
            raise ShapeError(path, f"is {describe(value)} (expected a map of strings)")
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            if not isinstance(k, str) or not isinstance(v, str):
                raise ShapeError(f"{path}.{k}", f"is {describe(v)} (expected a string; quote it)")
            out[k] = v
        return out
    if not ok:
        article = "an" if shape[0] in "aeiou" else "a"
        raise ShapeError(path, f"is {describe(value)} (expected {article} {shape})")
    return _plain(value, path)


def _plain(value: Any, path: str) -> Any:
    """Unchecked fields: nulls dropped, timestamps as strings, keys as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{path}.{k}") for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (datetime, date)):
        return _iso(value)
    return value


def _iso(value: date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def describe(value: Any) -> str:
    if value is None:
        return "null"
    for t, name in _TYPE_NAMES.items():
        if isinstance(value, t):
            return name
    return f"a {type(value).__name__}"


@lru_cache(maxsize=None)
def _kind_shape(kind: str) -> dict[str, Any]:
    return _merge(COMMON, KINDS.get(kind, {}))


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out
