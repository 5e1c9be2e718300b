"""The L7 hop in front of a Service: Ingresses and Gateway API routes, read as data.

Pure readers over the objects as the API server returns them, shared by the live source
(which decides what to read), the target resolver (``ingress/NAME``, ``httproute/NAME``,
``https://host/path``) and the checks:

    refs      the backends an Ingress or route names, and whether a port matches
    classes   which Ingress class an Ingress has, and which controllers are running
    gateway   route attachment: parents, listeners, hostnames, ReferenceGrants, conditions
    urls      which Ingress rules and routes a URL's host and path select
"""

from __future__ import annotations

GATEWAY_GROUP = "gateway.networking.k8s.io"
# Route kinds svcdoctor reads, with the API version read (v1 since Gateway API v1.6 for
# TLS/TCP; older installs serve those as v1alpha2 only and are then "not installed").
ROUTE_KINDS = {"HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes", "TLSRoute": "tlsroutes",
               "TCPRoute": "tcproutes"}
FRONT_KINDS = ("Ingress", *ROUTE_KINDS)
# The target kinds an L7 check applies to (``register(..., targets=TARGETS)``).
TARGETS = ("Service", *FRONT_KINDS, "URL")
