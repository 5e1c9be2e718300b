"""Scenarios where the selected pods never become Ready for a reason other than a failing
readiness probe, on the shared control plane.

Where the kubelet would report the state (a container crash-looping, an image that cannot
be pulled, a missing Secret, a readiness gate), the pods carry ``svcdoctor.test/kwok-ignore``
and the test writes their status and events as the kubelet does (texts from
pkg/kubelet/kuberuntime and images: "back-off 5m0s restarting failed container=…",
"Back-off pulling image …", ``secret "…" not found``, "corresponding condition of pod
readiness gate … does not exist."). Where the scheduler decides (resources, host ports),
the real kube-scheduler does it and writes FailedScheduling itself.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from typing import Any

from scenarios import Scenario, deployment, kubelet_event, pods, service

IGNORE = {"svcdoctor.test/kwok-ignore": "true"}


def _stamp(ago_s: int = 0) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=ago_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bound(cp: Any, sc: Scenario, n: int) -> list[dict]:
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == n and all(p["spec"].get("nodeName") for p in pods(cp, sc.namespace)),
                  timeout=60, what=f"{sc.name}: {n} pods bound")
    return pods(cp, sc.namespace)


def kubelet_status(cp: Any, pod: dict, i: int, *, containers: list[dict], ready: bool = False,
                   containers_ready: bool = False, extra_conditions: list[dict] = (), ready_reason: str = "",
                   ready_message: str = "") -> None:
    """The status a kubelet writes for a pod it started (phase Running, an IP)."""
    now = _stamp(600)
    names = [c["name"] for c in pod["spec"]["containers"]]
    conds = [{"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
             {"type": "Initialized", "status": "True", "lastTransitionTime": now},
             {"type": "ContainersReady", "status": str(containers_ready), "lastTransitionTime": now,
              **({} if containers_ready else {"reason": "ContainersNotReady",
                                              "message": f"containers with unready status: [{' '.join(names)}]"})},
             {"type": "Ready", "status": str(ready), "lastTransitionTime": now,
              **({"reason": ready_reason or "ContainersNotReady",
                  "message": ready_message or f"containers with unready status: [{' '.join(names)}]"} if not ready else {})},
             {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}, *extra_conditions]
    status = {"phase": "Running", "podIP": f"10.244.9.{10 + i}", "podIPs": [{"ip": f"10.244.9.{10 + i}"}],
              "hostIP": "127.0.0.11", "startTime": now, "conditions": conds, "containerStatuses": containers}
    cp.kubectl("-n", pod["metadata"]["namespace"], "patch", "pod", pod["metadata"]["name"], "--subresource=status",
               "--type=merge", "-p", json.dumps({"status": status}))


def _container(pod: dict, *, waiting: tuple[str, str], restarts: int = 0, last: dict | None = None,
               ready: bool = False) -> dict:
    c = pod["spec"]["containers"][0]
    out = {"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "started": False,
           "restartCount": restarts, "state": {"waiting": {"reason": waiting[0], "message": waiting[1]}}}
    if last:
        out["lastState"] = {"terminated": {"startedAt": _stamp(95), "finishedAt": _stamp(90), **last}}
    return out


def _crashing(last: dict, restarts: int = 7):
    def setup(cp: Any, sc: Scenario) -> None:
        for i, p in enumerate(_bound(cp, sc, 2)):
            name, ns, uid = p["metadata"]["name"], p["metadata"]["namespace"], p["metadata"]["uid"]
            cname = p["spec"]["containers"][0]["name"]
            kubelet_status(cp, p, i, containers=[_container(
                p, waiting=("CrashLoopBackOff", f"back-off 5m0s restarting failed container={cname} pod={name}_{ns}({uid})"),
                restarts=restarts + i, last=last)])
            kubelet_event(cp, ns, name, reason="BackOff",
                          message=f"Back-off restarting failed container {cname} in pod {name}_{ns}({uid})",
                          count=30 + i, span_s=1500)
    return setup


def _image_missing(cp: Any, sc: Scenario) -> None:
    for i, p in enumerate(_bound(cp, sc, 2)):
        image = p["spec"]["containers"][0]["image"]
        kubelet_status(cp, p, i, containers=[_container(p, waiting=("ImagePullBackOff", f'Back-off pulling image "{image}"'))])
        kubelet_event(cp, sc.namespace, p["metadata"]["name"], reason="Failed", count=6 + i, span_s=900,
                      message=f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and '
                              f'unpack image "{image}": failed to resolve reference "{image}": {image}: not found')


def _secret_missing(cp: Any, sc: Scenario) -> None:
    for i, p in enumerate(_bound(cp, sc, 2)):
        kubelet_status(cp, p, i, containers=[_container(p, waiting=("CreateContainerConfigError",
                                                                   'secret "orders-db-credentials" not found'))])
        kubelet_event(cp, sc.namespace, p["metadata"]["name"], reason="Failed", count=12 + i, span_s=700,
                      message='Error: secret "orders-db-credentials" not found')


GATE = "target-health.elbv2.k8s.aws/k8s-shopgate-web-5f3c2a1b9d"


def _gate_unset(cp: Any, sc: Scenario) -> None:
    for i, p in enumerate(_bound(cp, sc, 2)):
        kubelet_status(cp, p, i, containers=[{**_container(p, waiting=("", ""), ready=True),
                                              "started": True, "state": {"running": {"startedAt": _stamp(600)}}}],
                       containers_ready=True, ready_reason="ReadinessGatesNotReady",
                       ready_message=f'corresponding condition of pod readiness gate "{GATE}" does not exist.')


def _finished_job_pod(cp: Any, sc: Scenario) -> None:
    cp.wait_until(lambda: sum(1 for p in pods(cp, sc.namespace) if p["metadata"]["name"].startswith("reports-")
                              and p.get("status", {}).get("phase") == "Running") == 2, timeout=60, what="2 running")
    (job,) = [p for p in _bound(cp, sc, 3) if p["metadata"]["name"].startswith("reports-migrate")]
    cp.kubectl("-n", sc.namespace, "patch", "pod", job["metadata"]["name"], "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": {"phase": "Succeeded", "conditions": [
                   {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": _stamp(300)}],
                   "containerStatuses": [{"name": "migrate", "image": "shop/reports:2.1", "imageID": "", "ready": False,
                                          "restartCount": 0, "started": False, "state": {"terminated": {
                                              "exitCode": 0, "reason": "Completed", "startedAt": _stamp(400),
                                              "finishedAt": _stamp(300)}}}]}}))


def _unschedulable(cp: Any, sc: Scenario) -> None:
    """The real scheduler tries, fails and says why (FailedScheduling)."""
    cp.wait_until(lambda: any(e.get("reason") == "FailedScheduling" for e in json.loads(
        cp.kubectl("-n", sc.namespace, "get", "events", "-o", "json").stdout)["items"]), timeout=60,
        what=f"{sc.name}: FailedScheduling")


def _ignored(name: str, ns: str, labels: dict, **kw: Any) -> str:
    """A Deployment whose pods' status the test writes (as their kubelet)."""
    return deployment(name, ns, labels, pod_labels=IGNORE, **kw)


NODE_ABC = """\
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-a, node-b, node-c]}]
"""


def _agent(node: str, ns: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: metrics-agent-{node}, namespace: {ns}, labels: {{app: metrics-agent}}}}
        spec:
          nodeName: {node}
          containers:
          - {{name: agent, image: metrics/agent:1.0, ports: [{{containerPort: 9100, hostPort: 8080}}]}}
        """)


SCENARIOS = [
    Scenario("pods-crashlooping",
             "Both pods of api exit with code 1 and are in CrashLoopBackOff after 7 restarts.",
             "crash", "api", [_ignored("api", "crash", {"app": "api"}), service("api", "crash", {"app": "api"})],
             ["backend-pods-crashlooping", "no-ready-endpoints"],
             setup=_crashing({"exitCode": 1, "reason": "Error",
                              "message": "panic: dial tcp 10.96.41.7:5432: connect: connection refused"})),
    Scenario("pods-oomkilled",
             "worker's container is OOMKilled (exit 137) at its 128Mi limit, again and again.",
             "oom", "worker", [_ignored("worker", "oom", {"app": "worker"}, image="shop/worker:3.2",
                                        resources="{limits: {memory: 128Mi}, requests: {memory: 128Mi}}"),
                               service("worker", "oom", {"app": "worker"})],
             ["backend-pods-crashlooping", "no-ready-endpoints"],
             setup=_crashing({"exitCode": 137, "reason": "OOMKilled"}, restarts=12)),
    Scenario("pods-image-missing",
             "The image tag of catalog was never pushed: ImagePullBackOff, the registry says not found.",
             "pull", "catalog", [_ignored("catalog", "pull", {"app": "catalog"}, image="registry.example/shop/catalog:1.4.2"),
                                 service("catalog", "pull", {"app": "catalog"})],
             ["backend-pods-crashlooping", "no-ready-endpoints"], setup=_image_missing, translation="pull-not-found"),
    Scenario("pods-secret-missing",
             "orders reads its database password from Secret orders-db-credentials, which does not exist.",
             "cfg", "orders", [_ignored("orders", "cfg", {"app": "orders"}), service("orders", "cfg", {"app": "orders"})],
             ["backend-pods-crashlooping", "no-ready-endpoints"], setup=_secret_missing,
             translation="config-missing-secret"),
    Scenario("pods-unschedulable",
             "search requests 64 CPUs; no node has them (the scheduler says Insufficient cpu).",
             "sched", "search", [deployment("search", "sched", {"app": "search"}, image="shop/search:5.0",
                                            resources='{requests: {cpu: "64", memory: 1Gi}}'),
                                 service("search", "sched", {"app": "search"})],
             ["backend-pods-pending", "no-ready-endpoints"], translation="sched-insufficient-resources",
             setup=_unschedulable),
    Scenario("pods-no-scheduler",
             "batch names schedulerName volcano, which is not installed: its pods wait unscheduled and nobody says why.",
             "batch", "batch", [deployment("batch", "batch", {"app": "batch"}, extra_pod="schedulerName: volcano\n"),
                                service("batch", "batch", {"app": "batch"})],
             ["backend-pods-pending", "no-ready-endpoints"],
             setup=lambda cp, sc: cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 2, timeout=60,
                                                what="batch pods created")),
    Scenario("pods-readiness-gate",
             "web's pods carry an AWS Load Balancer Controller readiness gate; no controller ever sets it.",
             "gate", "web", [_ignored("web", "gate", {"app": "web"}, extra_pod=f"""\
                 readinessGates: [{{conditionType: {GATE}}}]
                 """), service("web", "gate", {"app": "web"})],
             ["readiness-gate-unsatisfied", "no-ready-endpoints"], setup=_gate_unset),
    Scenario("pods-host-port-taken",
             "ingest uses hostPort 8080, which metrics-agent pods already hold on every node it may use.",
             "hostport", "ingest", [*[_agent(n, "hostport") for n in ("node-a", "node-b", "node-c")],
                                    deployment("ingest", "hostport", {"app": "ingest"},
                                               ports="[{name: http, containerPort: 8080, hostPort: 8080}]",
                                               extra_pod=NODE_ABC),
                                    service("ingest", "hostport", {"app": "ingest"})],
             ["host-port-conflict", "no-ready-endpoints"], setup=_unschedulable),
    Scenario("selector-matches-job-pods",
             "The reports migration Job's pod copied the app's labels; it has Succeeded, the app's 2 pods are Ready.",
             "jobs", "reports", [deployment("reports", "jobs", {"app": "reports"}),
                                 service("reports", "jobs", {"app": "reports"}),
                                 textwrap.dedent("""\
                                     apiVersion: v1
                                     kind: Pod
                                     metadata: {name: reports-migrate-x7k2p, namespace: jobs,
                                                labels: {app: reports, svcdoctor.test/kwok-ignore: "true"}}
                                     spec:
                                       restartPolicy: Never
                                       containers: [{name: migrate, image: "shop/reports:2.1"}]
                                     """)],
             ["selector-matches-finished-pods"], setup=_finished_job_pod),
]


# --- cluster "old-kube-proxy": kube-proxy v1.23 on every node -----------------------------------

KUBE_PROXY_123 = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: kube-proxy, namespace: kube-system, labels: {k8s-app: kube-proxy}}
    spec:
      selector: {matchLabels: {k8s-app: kube-proxy}}
      template:
        metadata: {labels: {k8s-app: kube-proxy}}
        spec:
          hostNetwork: true
          tolerations: [{operator: Exists}]
          containers:
          - {name: kube-proxy, image: "registry.k8s.io/kube-proxy:v1.23.17"}
    """)


def prepare_old_kube_proxy(cp: Any) -> None:
    cp.kubectl("apply", "-f", "-", input=KUBE_PROXY_123)


def _bind_refused(cp: Any, sc: Scenario) -> None:
    """The agent listens on 30090 on the node's network; kube-proxy v1.23 holds that port
    open for grafana's NodePort, so the kubelet reports each start dying on bind."""
    cp.wait_until(lambda: len([p for p in pods(cp, "kube-system") if p["metadata"]["name"].startswith("kube-proxy")]) >= 3,
                  timeout=60, what="kube-proxy pods")
    _crashing({"exitCode": 1, "reason": "Error",
               "message": "listen tcp 0.0.0.0:30090: bind: address already in use"}, restarts=9)(cp, sc)


OLD_KUBE_PROXY = [
    Scenario("hostnet-port-held-by-kube-proxy",
             "edge-agent runs on the node's network and listens on 30090, which is grafana's NodePort (namespace "
             "monitoring); kube-proxy v1.23 holds every NodePort open, so the agent dies on bind.",
             "edge", "edge-agent",
             [_ignored("edge-agent", "edge", {"app": "edge-agent"}, image="edge/agent:2.3",
                       ports="[{name: http, containerPort: 30090}]", extra_pod="hostNetwork: true\n"),
              service("edge-agent", "edge", {"app": "edge-agent"}),
              service("grafana", "monitoring", {"app": "grafana"},
                      ports="[{name: http, port: 80, targetPort: 3000, nodePort: 30090}]", extra="type: NodePort\n")],
             ["host-port-conflict", "backend-pods-crashlooping", "no-ready-endpoints"], namespaces=["monitoring"],
             setup=_bind_refused, cluster="old-kube-proxy"),
]
