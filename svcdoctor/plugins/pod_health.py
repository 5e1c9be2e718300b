"""Why the selected pods never become Ready, when the answer is not a failing readiness
probe: containers that crash or cannot start (CrashLoopBackOff, image pulls, missing
ConfigMaps/Secrets), pods the scheduler cannot place, host ports taken on their nodes,
readiness gates nobody sets; and Job pods sharing the Service's labels. These are root
causes: ``no-ready-endpoints`` and ``some-endpoints-not-ready`` name them as their cause.

Texts: the kubelet's container waiting reasons and messages, its ``Failed``/``BackOff``
events, the scheduler's ``FailedScheduling`` (the real kube-scheduler writes it in the
tests), translated through ``pod_errors.yaml``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from svcdoctor import hookimpl, kube, tables
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.kube import Obj
from svcdoctor.wording import cause_facts

CRIT, WARN = Severity.CRITICAL, Severity.WARNING
# Waiting reasons that mean the container cannot run (kubelet kuberuntime / images).
CANNOT_RUN = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
              "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
              "ErrImageNeverPull")
# Exit codes worth a word (128 + signal for signals).
EXIT_MEANINGS = {1: "the application exited with an error", 2: "a shell or usage error",
                 126: "the command is not executable", 127: "the command was not found",
                 137: "killed by SIGKILL (out of memory, or a failing liveness probe)",
                 139: "a segmentation fault (SIGSEGV)", 143: "stopped by SIGTERM"}
# readinessGates condition types → who sets them.
GATE_OWNERS = (
    ("target-health.elbv2.k8s.aws/", "the AWS Load Balancer Controller (it injects the gate only in namespaces "
                                     "labelled elbv2.k8s.aws/pod-readiness-gate-inject=enabled, and sets it once "
                                     "the pod is healthy in the target group)"),
    ("cloud.google.com/load-balancer-neg-ready", "GKE's NEG controller (once the pod is healthy in the network "
                                                 "endpoint group)"),
    ("target-health.alb.ingress.k8s.aws/", "the AWS ALB Ingress Controller (v1, long retired: nothing sets it "
                                           "any more)"),
)


def causes() -> tuple[dict[str, Any], ...]:
    return tables.bundled("svcdoctor.plugins", "pod_errors.yaml")


def _live(ev: Evidence) -> list[Obj]:
    if not ev.selector or kube.service_type(ev.service) == "ExternalName":
        return []
    return [p for p in ev.selected_pods if not kube.pod_terminating(p)]


def _unready(ev: Evidence) -> list[Obj]:
    if (ev.service.get("spec") or {}).get("publishNotReadyAddresses"):
        return []
    return [p for p in _live(ev) if not kube.pod_ready(p)]


def _severity(ev: Evidence) -> Severity:
    return WARN if any(kube.pod_ready(p) for p in _live(ev)) else CRIT


def _container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    return next((c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                 if c.get("name") == name), {})


def _statuses(pod: Obj) -> list[Obj]:
    status = pod.get("status") or {}
    return (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])


def _translate(message: str, facts: dict[str, Any]) -> tuple[dict | None, dict[str, str]]:
    entry, groups = tables.search(causes(), message)
    if entry is None:
        return None, {}
    return entry, {**groups, **cause_facts(entry, {**facts, **groups}), "cause_id": entry["id"]}


def _pod_events(ev: Evidence, pod: Obj, *reasons: str) -> list[Obj]:
    return [e for e in ev.events_for("Pod", kube.name(pod), kube.namespace(pod)) if e.get("reason") in reasons]


# --- containers that cannot run ------------------------------------------------------------

def crashlooping(ev: Evidence) -> Iterator[Finding]:
    broken = []
    for pod in _unready(ev):
        for cs in _statuses(pod):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in CANNOT_RUN:
                broken.append((pod, cs, waiting))
                break
    if not broken:
        return
    pod, cs, waiting = max(broken, key=lambda b: b[1].get("restartCount") or 0)
    name, reason = str(cs.get("name") or ""), str(waiting.get("reason"))
    last = (cs.get("lastState") or {}).get("terminated") or {}
    facts: dict[str, Any] = {
        "pods": len(broken), "unready": len(_unready(ev)), "pod": kube.name(pod), "container": name,
        "reason": reason, "restarts": cs.get("restartCount") or None, "waiting_message": waiting.get("message"),
        "workload": kube.workload(pod), "image": _container(pod, name).get("image"),
    }
    if last:
        code = last.get("exitCode")
        facts.update(last_reason=last.get("reason"), exit_code=code, signal=last.get("signal"),
                     exit_meaning=EXIT_MEANINGS.get(code) if isinstance(code, int) else None,
                     last_message=str(last.get("message") or "")[:300] or None,
                     finished=ev.age(kube.parse_time(last.get("finishedAt"))) + " ago" if last.get("finishedAt") else None)
        if last.get("reason") == "OOMKilled":
            facts["oom_limit"] = ((_container(pod, name).get("resources") or {}).get("limits") or {}).get("memory") \
                or "no limit (the node ran out of memory)"
            facts["oom"] = "yes"
    refs = [Ref("field", kube.ref(pod), f"{kube.ref(pod)} container {name}: waiting {reason}"
                + (f" ({str(waiting.get('message'))[:200]})" if waiting.get("message") else "")
                + f", {cs.get('restartCount') or 0} restarts")]
    if last:
        refs.append(Ref("field", kube.ref(pod), f"{kube.ref(pod)} container {name} last terminated: "
                        f"{last.get('reason', '?')}, exit code {last.get('exitCode', '?')}"))
    message = str(waiting.get("message") or "")
    if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        failed = kube.latest(_pod_events(ev, pod, "Failed"))
        if failed is not None:
            refs.append(Ref.event(failed, ev))
            message = kube.event_message(failed) + " " + message
        facts["pull"] = "yes"
    elif reason in ("CreateContainerConfigError", "CreateContainerError"):
        facts["config"] = "yes"
    else:
        backoff = kube.latest(_pod_events(ev, pod, "BackOff"))
        if backoff is not None:
            refs.append(Ref.event(backoff, ev))
        facts["crash"] = "yes"
    entry, more = _translate(message, {**facts, "namespace": kube.namespace(pod)})
    if entry is not None and entry.get("finding") in (None, "backend-pods-crashlooping"):
        facts.update(more)
    # a container dying on bind is the host port's doing: host-port-conflict says by whom
    yield Finding("backend-pods-crashlooping", _severity(ev), f"Service {ev.target}", facts, refs,
                  caused_by="host-port-conflict" if _host_ports(pod) and _bind_failed(pod) else None)


# --- pods the scheduler cannot place ---------------------------------------------------------

def _unscheduled(ev: Evidence) -> list[Obj]:
    return [p for p in _unready(ev) if kube.pod_phase(p) == "Pending" and not kube.pod_node(p)]


def _scheduling_message(ev: Evidence, pod: Obj) -> tuple[str, Obj | None]:
    evt = kube.latest(_pod_events(ev, pod, "FailedScheduling"))
    if evt is not None:
        return kube.event_message(evt), evt
    cond = kube.condition(pod, "PodScheduled") or {}
    return str(cond.get("message") or ""), None


def pending(ev: Evidence) -> Iterator[Finding]:
    pods = _unscheduled(ev)
    if not pods:
        return
    pod = pods[0]
    message, evt = _scheduling_message(ev, pod)
    facts: dict[str, Any] = {"pods": len(pods), "unready": len(_unready(ev)), "pod": kube.name(pod),
                             "message": message or None, "workload": kube.workload(pod),
                             "requests": _requests(pod)}
    entry, more = _translate(message, {**facts, "namespace": kube.namespace(pod), "node": "NODE"})
    if entry is not None and entry.get("finding") == "host-port-conflict":
        return  # host_ports says it, with who holds the port
    facts.update(more)
    if entry is None:
        facts["unknown"] = "yes" if message else None
        scheduler = str((pod.get("spec") or {}).get("schedulerName") or "default-scheduler")
        facts["no_message"] = "yes" if not message else None
        facts["scheduler"] = scheduler if not message else None
        facts["cause_title"] = (f"no scheduler named {scheduler} has taken them" if not message
                                else "the scheduler's reason is quoted below")
    refs = [Ref("field", kube.ref(pod), f"{kube.ref(pod)} status.phase = Pending, not scheduled")]
    if evt is not None:
        refs.append(Ref.event(evt, ev))
    yield Finding("backend-pods-pending", _severity(ev), f"Service {ev.target}", facts, refs)


def _requests(pod: Obj) -> str | None:
    parts = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        if req:
            parts.append(f"{c.get('name')}: " + ", ".join(f"{k} {v}" for k, v in sorted(req.items())))
    return "; ".join(parts) or None


# --- host ports ------------------------------------------------------------------------------

def _host_ports(pod: Obj) -> set[tuple[int, str]]:
    spec = pod.get("spec") or {}
    out = set()
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            port = p.get("hostPort") or (p.get("containerPort") if spec.get("hostNetwork") else None)
            if port:
                out.add((int(port), str(p.get("protocol") or "TCP")))
    return out


def _bind_failed(pod: Obj) -> bool:
    return any("address already in use" in str(((cs.get("lastState") or {}).get("terminated") or {}).get("message"))
               for cs in _statuses(pod))


def kube_proxy_version(ev: Evidence, node: str) -> tuple[str, tuple[int, int]] | None:
    """kube-proxy's version on ``node``: its pod's image tag, else the node's nodeInfo."""
    for p in ev.of_kind("Pod", "kube-system"):
        if kube.name(p).startswith("kube-proxy") and kube.pod_node(p) == node:
            for c in (p.get("spec") or {}).get("containers") or []:
                found = _version(str(c.get("image") or "").rpartition(":")[2])
                if found:
                    return found
    info = ((ev.nodes.get(node) or {}).get("status") or {}).get("nodeInfo") or {}
    return _version(str(info.get("kubeProxyVersion") or ""))


def _version(text: str) -> tuple[str, tuple[int, int]] | None:
    m = re.match(r"v?(\d+)\.(\d+)(\.\d+)?", text)
    return (text, (int(m[1]), int(m[2]))) if m else None


def _old_proxy(ev: Evidence, pod: Obj) -> str | None:
    """"v1.23.17 on node-a" when kube-proxy there predates 1.24, which held every NodePort
    (and externalIP ports on the node) open with a socket of its own."""
    node = kube.pod_node(pod)
    found = kube_proxy_version(ev, node) if node else None
    return f"{found[0]} on {node}" if found and found[1] < (1, 24) else None


@hookimpl
def plan_reads(evidence: Any, read: Callable[..., None]) -> None:
    """Every Service's ports, only when a hostNetwork/hostPort pod failed to bind on a node
    whose kube-proxy holds NodePorts (before 1.24)."""
    if evidence.target.kind != "Service" or not evidence.selector:
        return
    if any(_host_ports(p) and _bind_failed(p) and _old_proxy(evidence, p) for p in _unready(evidence)):
        read("Service", "/api/v1/services", "list Services in all namespaces")


def _service_holders(ev: Evidence, pod: Obj, wanted: set[tuple[int, str]]) -> list[str]:
    """Services whose NodePort, or externalIP port on the pod's node, is a wanted port."""
    node = ev.nodes.get(kube.pod_node(pod)) or {}
    node_ips = {a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
    out = []
    for svc in ev.of_kind("Service"):
        ext = set((svc.get("spec") or {}).get("externalIPs") or []) & node_ips
        for sp in kube.service_ports(svc):
            proto = kube.port_protocol(sp)
            if (sp.get("nodePort"), proto) in wanted:
                out.append(f"Service {kube.namespace(svc)}/{kube.name(svc)} (nodePort {sp['nodePort']}/{proto})")
            for ip in sorted(ext):
                if (sp.get("port"), proto) in wanted:
                    out.append(f"Service {kube.namespace(svc)}/{kube.name(svc)} (externalIP {ip}:{sp['port']}/{proto})")
    return sorted(set(out))


def host_ports(ev: Evidence) -> Iterator[Finding]:
    """Pods needing a host port that is taken: the scheduler says no node has it free, or a
    hostNetwork container dies with "address already in use"."""
    for pod in _unready(ev):
        wanted = _host_ports(pod)
        if not wanted:
            continue
        message, evt = _scheduling_message(ev, pod) if not kube.pod_node(pod) else ("", None)
        in_use = _bind_failed(pod)
        if "didn't have free ports" not in message and not in_use:
            continue
        nodes = {kube.pod_node(pod)} if kube.pod_node(pod) else set(ev.nodes)
        holders = sorted(f"{kube.namespace(o)}/{kube.name(o)} on {kube.pod_node(o)}"
                         for o in ev.of_kind("Pod") if o is not pod and kube.pod_node(o) in nodes
                         and not kube.pod_finished(o) and _host_ports(o) & wanted)
        old_proxy = _old_proxy(ev, pod) if in_use else None
        if old_proxy:
            holders += [f"{h}, held open by kube-proxy {old_proxy}" for h in _service_holders(ev, pod, wanted)]
        ports = ", ".join(f"{p}/{proto}" for p, proto in sorted(wanted))
        facts = {"pod": kube.name(pod), "ports": ports, "holders": holders[:8] or None,
                 "holders_unknown": "yes" if not holders else None, "message": message or None,
                 "host_network": "yes" if (pod.get("spec") or {}).get("hostNetwork") else None,
                 "bind_error": "yes" if in_use else None, "workload": kube.workload(pod),
                 "kube_proxy": old_proxy,
                 "first_node": kube.pod_node(pod) or (holders[0].split(" on ")[-1] if holders else None)}
        refs = [Ref("field", kube.ref(pod), f"{kube.ref(pod)} needs host port {ports}")]
        if evt is not None:
            refs.append(Ref.event(evt, ev))
        yield Finding("host-port-conflict", _severity(ev), f"Service {ev.target}", facts, refs)
        return


# --- readiness gates -------------------------------------------------------------------------

def readiness_gates(ev: Evidence) -> Iterator[Finding]:
    stuck = []
    for pod in _unready(ev):
        gates = [g.get("conditionType") for g in (pod.get("spec") or {}).get("readinessGates") or []]
        if not gates or (kube.condition(pod, "ContainersReady") or {}).get("status") != "True":
            continue
        open_gates = [(g, kube.condition(pod, g)) for g in gates if (kube.condition(pod, g) or {}).get("status") != "True"]
        if open_gates:
            stuck.append((pod, open_gates))
    if not stuck:
        return
    pod, open_gates = stuck[0]
    gate, cond = open_gates[0]
    owner = next((who for prefix, who in GATE_OWNERS if str(gate).startswith(prefix)), None)
    facts = {"pods": len(stuck), "pod": kube.name(pod), "gate": gate,
             "gate_state": "missing" if cond is None else f"{cond.get('status')}"
             + (f" ({cond.get('reason')})" if cond.get("reason") else ""),
             "gate_message": (cond or {}).get("message"), "owner": owner,
             "owner_unknown": "yes" if owner is None else None, "workload": kube.workload(pod)}
    ready = kube.condition(pod, "Ready") or {}
    refs = [Ref("field", kube.ref(pod), f"{kube.ref(pod)} spec.readinessGates = {', '.join(str(g) for g, _ in open_gates)}"),
            Ref("field", kube.ref(pod), f"{kube.ref(pod)} status.conditions[Ready] = {ready.get('status')}"
                + (f" ({ready.get('reason')})" if ready.get("reason") else "")
                + "; ContainersReady = True")]
    yield Finding("readiness-gate-unsatisfied", _severity(ev), f"Service {ev.target}", facts, refs)


# --- finished pods -------------------------------------------------------------------------

def finished_pods(ev: Evidence) -> Iterator[Finding]:
    sel = ev.selector
    if not sel or kube.service_type(ev.service) == "ExternalName" or not ev.was_collected("Pod"):
        return
    done = [p for p in ev.pods_matching(sel, ev.target.namespace) if kube.pod_finished(p)]
    if not done:
        return
    owners = sorted({kube.workload(p) for p in done})
    yield Finding("selector-matches-finished-pods", WARN, f"Service {ev.target}",
                  {"selector": kube.format_selector(sel), "count": len(done), "owners": owners,
                   "pods": sorted(kube.name(p) for p in done)[:5], "first": kube.name(done[0]),
                   "phases": sorted({kube.pod_phase(p) for p in done})},
                  [Ref("field", kube.ref(p), f"{kube.ref(p)} status.phase = {kube.pod_phase(p)}") for p in done[:3]])


@hookimpl
def register_checks(register: Any) -> None:
    register(crashlooping, emits=("backend-pods-crashlooping",))
    register(pending, emits=("backend-pods-pending",))
    register(host_ports, emits=("host-port-conflict",))
    register(readiness_gates, emits=("readiness-gate-unsatisfied",))
    register(finished_pods, emits=("selector-matches-finished-pods",))
