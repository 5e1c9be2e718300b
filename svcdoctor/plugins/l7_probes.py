"""Probe the L7 hop the way a user meets it: an HTTP request to the address the Ingress or
Gateway status gives, with the rule's Host header and path (never to what was typed: a
URL target only selects the rules). The answer is classified where the report cites it
(svcdoctor.l7.answers): the default backend's 404, 503 with no endpoints, 500 for invalid
backendRefs, a TLS handshake failure, a timeout."""

from __future__ import annotations

from typing import Any

from svcdoctor import hookimpl
from svcdoctor.evidence import Evidence
from svcdoctor.l7.addresses import targets
from svcdoctor.probes import Probe, ProbeOptions


@hookimpl
def plan_probes(evidence: Evidence, plan: Any, options: ProbeOptions) -> None:
    for addr, port, scheme, host, path, via in targets(evidence):
        plan(Probe("http", "l7", f"{scheme}://{addr}:{port}{path}", host=addr, port=port, path=path,
                   detail={"scheme": scheme, "hostHeader": host, "via": via}))

