"""What an HTTP answer from an Ingress controller or Gateway means (failure-modes §1,
Gateway API httproute_types.go): the words the report puts next to a probe's status."""

from __future__ import annotations

from typing import Any

MEANINGS = {
    404: "no rule matched: the default backend answered (wrong host or path, or nobody serves the Ingress)",
    500: "every backendRef of the rule is invalid (Gateway API)",
    502: "the upstream refused or reset the connection",
    503: "no ready endpoint behind the backend (or, with ingress-nginx, a port that matches no Service port)",
    504: "the upstream did not answer in time",
}


def meaning(status: int) -> str:
    if status in MEANINGS:
        return MEANINGS[status]
    if status < 400 or status in (401, 403):
        return "served by the backend"
    return "an error from the proxy or the backend"


def failed(status: int) -> bool:
    return status in (404, 500, 502, 503, 504)


def probe_refs(evidence: Any, owner_ref: str) -> list[Any]:
    """The L7 probes that went through ``owner_ref`` ("Ingress shop/web"), as evidence."""
    from ..findings import Ref

    return [Ref.probe(p) for p in evidence.probe_results
            if p.purpose == "l7" and p.outcome != "not-run" and p.detail.get("via") == owner_ref]


def with_probes(check: Any) -> Any:
    """A check whose findings also cite the L7 probes through the object they are about."""
    import functools

    @functools.wraps(check)
    def run(evidence: Any) -> Any:
        for f in check(evidence):
            f.evidence += probe_refs(evidence, f.subject.split(" → ")[0])
            yield f
    return run


L7_IDS = ("ingress-backend-port-not-found", "ingress-backend-not-found", "ingress-class-unclaimed",
          "ingress-controller-rejected", "route-not-accepted", "route-backend-not-found",
          "route-ref-not-permitted", "route-backend-port-not-found", "gateway-not-programmed")


def compare(probes: list[Any], findings: list[Any]) -> str:
    """Each L7 probe's answer against what the findings predict: a failure the report
    explains, a failure nothing explains, or an answer where a failure was predicted."""
    out = []
    explained = {f.id for f in findings if f.severity.value == "critical"}
    for p in probes:
        if p.purpose != "l7" or p.outcome == "not-run":
            continue
        status = p.detail.get("status")
        bad = (status is not None and failed(status)) or p.outcome != "open"
        via = p.detail.get("via", "")
        predicted = [f.id for f in findings if f.id in L7_IDS and f.severity.value == "critical"
                     and via and via in f.subject]
        if bad and (predicted or explained & set(BACKEND_ROOTS)):
            out.append(f"{via}: as the findings predict")
        elif bad:
            out.append(f"{via}: fails, and nothing in the objects explains it (check the controller's logs)")
        elif predicted:
            out.append(f"{via}: served although the objects predict a failure ({', '.join(predicted)}); "
                       "another controller may serve it, or the objects changed since")
    return "; ".join(dict.fromkeys(out))


# The Service's own root causes that make an L7 hop fail as their consequence.
BACKEND_ROOTS = ("selector-matches-no-pods", "selector-pods-in-other-namespace", "no-selector-no-endpoints",
                 "no-ready-endpoints", "endpoints-only-terminating", "endpoints-on-notready-node",
                 "target-port-name-not-found")
