"""k3s ServiceLB (klipper-lb): one DaemonSet per LoadBalancer Service, whose pods bind the
Service's ports as host ports on every node; the Service gets the addresses of the nodes
whose pod runs.

A host port can be bound once per node, so a second LoadBalancer Service on the same port
(often next to Traefik on 80/443) gets pods the scheduler cannot place: the conflict shows
on the ``svclb-*`` pods ("didn't have free ports for the requested pod ports"), not on the
Service. Recent k3s runs those pods in kube-system, older releases in the Service's own
namespace; both are read.
"""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity

SVC_NAME_LABEL = "svccontroller.k3s.cattle.io/svcname"
SVC_NS_LABEL = "svccontroller.k3s.cattle.io/svcnamespace"
CONTROLLER = "service-lb-controller"
NO_FREE_PORTS = "didn't have free ports for the requested pod ports"


def _candidate_pods(ev: Evidence) -> list[dict]:
    return ev.of_kind("Pod", "kube-system") + (ev.namespace_pods if ev.target.namespace != "kube-system" else [])


def svclb_pods(ev: Evidence) -> list[dict]:
    """The ServiceLB pods of this Service (by k3s's labels, or by name in older releases)."""
    out = []
    for pod in _candidate_pods(ev):
        lbl = kube.labels(pod)
        if lbl.get(SVC_NAME_LABEL):
            if lbl[SVC_NAME_LABEL] == ev.target.name and lbl.get(SVC_NS_LABEL, kube.namespace(pod)) == ev.target.namespace:
                out.append(pod)
        elif kube.name(pod).startswith(f"svclb-{ev.target.name}-") and kube.namespace(pod) in (
                ev.target.namespace, "kube-system"):
            out.append(pod)
    return out


def host_ports(pod: dict) -> set[tuple[int, str]]:
    return {(int(p["hostPort"]), p.get("protocol") or "TCP")
            for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []
            if p.get("hostPort")}


@hookimpl
def detect_lb_implementations(evidence: Evidence, found) -> None:
    ev = evidence
    for e in ev.events_for("Service", ev.target.name):
        if kube.event_source(e) == CONTROLLER:
            found("k3s ServiceLB", evidence=[Ref.event(e, ev)])
    for pod in _candidate_pods(ev):
        if kube.name(pod).startswith("svclb-") or SVC_NAME_LABEL in kube.labels(pod):
            found("k3s ServiceLB", evidence=[Ref("field", kube.ref(pod), f"{kube.ref(pod)} is a ServiceLB (klipper-lb) pod")])


@hookimpl
def register_checks(register) -> None:
    register(host_port_conflict, emits=("lb-host-port-conflict",))


def _unschedulable(pod: dict) -> str:
    cond = kube.condition(pod, "PodScheduled") or {}
    if cond.get("status") == "False" and NO_FREE_PORTS in (cond.get("message") or ""):
        return cond.get("message") or ""
    return ""


def _holders(pods: list[dict], wanted: set[tuple[int, str]]) -> list[str]:
    """Who binds the ports, one line per workload ("svclb-blog-1f0e (Service k3s/blog): 3 pods, 80/TCP")."""
    groups: dict[str, list[dict]] = {}
    for pod in pods:
        kind, _, wname = kube.workload(pod).partition(" ")
        groups.setdefault(f"{kind} {kube.namespace(pod)}/{wname}", []).append(pod)
    out = []
    for owner, members in sorted(groups.items()):
        lbl = kube.labels(members[0])
        svc = (f" (ServiceLB for Service {lbl.get(SVC_NS_LABEL, kube.namespace(members[0]))}/{lbl[SVC_NAME_LABEL]})"
               if lbl.get(SVC_NAME_LABEL) else "")
        ports = sorted(set().union(*(host_ports(p) & wanted for p in members)))
        out.append(f"{owner}{svc} ({len(members)} pod{'s' if len(members) > 1 else ''}, "
                   f"{', '.join(f'{port}/{proto}' for port, proto in ports)})")
    return out


def host_port_conflict(ev: Evidence) -> Iterator[Finding]:
    if kube.service_type(ev.service) != "LoadBalancer":
        return
    mine = svclb_pods(ev)
    stuck = [(p, _unschedulable(p)) for p in mine if kube.pod_phase(p) == "Pending" and _unschedulable(p)]
    if not stuck:
        return
    wanted = set().union(*(host_ports(p) for p, _ in stuck))
    own = {kube.ref(p) for p in mine}
    holders = _holders([p for p in _candidate_pods(ev) if kube.ref(p) not in own and host_ports(p) & wanted
                        and not kube.pod_finished(p) and kube.pod_node(p)], wanted)
    running = [p for p in mine if kube.pod_phase(p) == "Running"]
    pod, message = stuck[0]
    facts = {"ports": [f"{port}/{proto}" for port, proto in sorted(wanted)], "stuck": len(stuck),
             "total": len(mine), "message": message, "holders": holders, "pod": kube.ref(pod),
             "first_port": min(port for port, _ in wanted), "partial": "yes" if running else ""}
    yield Finding("lb-host-port-conflict", Severity.WARNING if running else Severity.CRITICAL,
                  f"Service {ev.target} load balancer", facts=facts,
                  evidence=[Ref.field(pod, "status.conditions[PodScheduled].message", message)]
                  + [Ref("field", h.split(" (")[0], f"{h} binds the port on its nodes") for h in holders]
                  + [Ref.field(ev.service, "status.loadBalancer", (ev.service.get("status") or {}).get("loadBalancer") or {})])
