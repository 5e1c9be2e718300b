"""Service ports against what the selected pods declare: names, numbers, protocols.

Runs on every Service port. A named targetPort is resolved as the EndpointSlice
controller does (container port name *and* protocol, in containers and sidecar init
containers); a numeric targetPort is only compared with declared and probe ports, because
``containerPort`` is informational — so that comparison is a warning, not a verdict.
"""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube, similar
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.kube import Obj


@hookimpl
def register_checks(register) -> None:
    register(named_target_ports, emits=("target-port-name-not-found",))
    register(numeric_target_ports, emits=("target-port-not-exposed", "port-protocol-mismatch"))


def _pods(ev: Evidence) -> list[Obj]:
    if not ev.selector or kube.service_type(ev.service) == "ExternalName":
        return []
    live = [p for p in ev.selected_pods if not kube.pod_terminating(p)]
    return live or ev.selected_pods


def _declared(pods: list[Obj]) -> list[str]:
    seen = sorted({f"{n + '=' if n else ''}{num}/{proto}" for p in pods
                   for _, n, num, proto in kube.declared_ports(p)})
    return seen


def named_target_ports(ev: Evidence) -> Iterator[Finding]:
    pods = _pods(ev)
    if not pods:
        return
    for port in kube.service_ports(ev.service):
        tp, proto = kube.target_port(port), kube.port_protocol(port)
        if not isinstance(tp, str):
            continue
        missing, other_proto = [], set()
        for p in pods:
            decl = kube.declared_ports(p)
            if any(n == tp and pr == proto for _, n, _, pr in decl):
                continue
            missing.append(p)
            other_proto |= {pr for _, n, _, pr in decl if n == tp}
        if not missing:
            continue
        closest, candidates, unusable = _closest_port_name(tp, proto, pods)
        idx = kube.service_ports(ev.service).index(port)
        yield Finding(
            "target-port-name-not-found",
            Severity.CRITICAL if len(missing) == len(pods) else Severity.WARNING,
            f"Service {ev.target} port {kube.port_label(port)}",
            facts={"port": kube.port_label(port), "port_index": idx, "target_port": tp,
                   "protocol": proto, "missing": len(missing), "selected": len(pods),
                   "pods_missing": [kube.name(p) for p in missing[:5]],
                   "first_pod_missing": kube.name(missing[0]),
                   "workloads_missing": sorted({kube.workload(p) for p in missing}),
                   "declared": _declared(missing),
                   "other_protocol": sorted(other_proto),
                   "closest_name": closest, "no_rename": "" if closest else "yes",
                   "candidate_names": candidates, "unusable_name": unusable},
            evidence=[Ref.field(ev.service, f"spec.ports[{idx}].targetPort", tp)]
            + [Ref("field", kube.ref(p), f"{kube.ref(p)} declares ports "
                   f"{_declared([p]) or 'none'}") for p in missing[:2]],
        )


def _closest_port_name(tp: str, proto: str, pods: list[Obj]) -> tuple[str, list[str], str]:
    """The declared port name the Service most likely meant: (the name to point the
    Service at, the names about equally close when none is clearly closest, the clearly
    closest name when it cannot be used because some selected pod does not declare it
    with the Service port's protocol). Renaming to a name that only some pods declare,
    or only as UDP, would leave pods without the port: no patch then."""
    names = {n for p in pods for _, n, _, _ in kube.declared_ports(p) if n and n != tp}
    ranked = similar.rank(tp, sorted(names))
    best = similar.clear_winner(ranked)
    if best is None:
        close = similar.did_you_mean(tp, names)
        return "", close if len(close) > 1 else [], ""
    usable = all(any(n == best and pr == proto for _, n, _, pr in kube.declared_ports(p)) for p in pods)
    return (best, [], "") if usable else ("", [], best)


def numeric_target_ports(ev: Evidence) -> Iterator[Finding]:
    pods = _pods(ev)
    if not pods:
        return
    declared = [(n, num, proto) for p in pods for _, n, num, proto in kube.declared_ports(p)]
    if not declared:
        return  # containerPort is optional; nothing to compare against
    probes = set().union(*(kube.probe_ports(p) for p in pods))
    for idx, port in enumerate(kube.service_ports(ev.service)):
        tp, proto = kube.target_port(port), kube.port_protocol(port)
        if not isinstance(tp, int):
            continue
        same = [d for d in declared if d[1] == tp]
        if any(d[2] == proto for d in same):
            continue
        subject = f"Service {ev.target} port {kube.port_label(port)}"
        tp_ref = Ref.field(ev.service, f"spec.ports[{idx}].targetPort", tp)
        pod_ref = Ref("field", kube.ref(pods[0]), f"{kube.ref(pods[0])} declares ports "
                      f"{_declared([pods[0]])}")
        if same:  # the number is declared, under the other protocol only
            yield Finding(
                "port-protocol-mismatch", Severity.CRITICAL, subject,
                facts={"port": kube.port_label(port), "port_index": idx, "target_port": tp,
                       "protocol": proto, "pod_protocol": sorted({d[2] for d in same})[0],
                       "declared": _declared(pods)},
                evidence=[Ref.field(ev.service, f"spec.ports[{idx}].protocol", proto), pod_ref],
            )
            continue
        if tp in probes:
            continue  # the probes hit it, so something listens there
        candidates = sorted({num for _, num, pr in declared if pr == proto})
        yield Finding(
            "target-port-not-exposed", Severity.WARNING, subject,
            facts={"port": kube.port_label(port), "port_index": idx, "target_port": tp,
                   "protocol": proto, "declared": _declared(pods),
                   "probe_ports": sorted(probes),
                   "suggested_port": candidates[0] if len(candidates) == 1 else ""},
            evidence=[tp_ref, pod_ref],
        )
