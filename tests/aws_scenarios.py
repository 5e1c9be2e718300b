"""Scenarios of a Service's AWS load balancer: the Kubernetes side on the real control
plane (cluster "aws-cloud": three kwok nodes whose providerIDs name the emulated instances), the
AWS side in moto (tests/aws_cloud.py), built as the controllers build them. The test plays
the service controller: it creates the load balancer for the Service's UID and writes the
Service's status with an AWS-shaped hostname, as cloud-provider-aws does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import aws_cloud as aws
from scenarios import _slices_settled, deployment, pods, ready

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
NODE_NAMES = ("ip-10-0-1-11.ec2.internal", "ip-10-0-2-12.ec2.internal", "ip-10-0-1-13.ec2.internal")
NODE_IPS = ("127.0.0.61", "127.0.0.62", "127.0.0.63")
NLB = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}


@dataclass
class AwsScenario:
    name: str
    description: str
    namespace: str
    service: str
    build: Callable[["World", "AwsScenario", dict], dict[str, tuple[str, str, str]]]   # → health overrides
    expect: list[str]
    annotations: dict[str, str] = field(default_factory=lambda: dict(NLB))
    local: bool = False          # externalTrafficPolicy Local
    on_nodes: tuple[int, ...] = (0,)
    deny: str = ""               # an IAM action svcdoctor's identity lacks (moto enforcing IAM)


@dataclass
class World:
    """moto + the "aws-cloud" control plane, with the account's instances as its nodes."""

    cp: Any
    acct: aws.Account
    node_names: tuple[str, ...] = NODE_NAMES
    cloud_label: str = "aws"

    def service(self, sc: AwsScenario) -> dict:
        return json.loads(self.cp.kubectl("-n", sc.namespace, "get", "svc", sc.service, "-o", "json").stdout)

    def identity(self, without: str = "") -> dict[str, str]:
        """Credentials of an IAM user with the shipped read-only policy (minus ``without``)."""
        policy = json.loads((ROOT / "deploy" / "aws-iam-policy.json").read_text())
        policy["Statement"][0]["Action"] = [a for a in policy["Statement"][0]["Action"] if a != without]
        name = "svcdoctor-" + (without.split(":")[-1].lower() or "reader")
        iam = self.acct.client("iam")
        if name not in {u["UserName"] for u in iam.list_users()["Users"]}:
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="svcdoctor", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {**self.acct.env(), "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    def set_hostname(self, sc: AwsScenario, hostname: str) -> None:
        self.cp.kubectl("-n", sc.namespace, "patch", "svc", sc.service, "--subresource=status", "--type=merge",
                        "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}}))


@dataclass
class StandinWorld:
    """A cloud played by a stand-in HTTP server (GCP, Azure) and its control plane."""

    cp: Any
    server: Any
    folder: Any                  # where the credentials the cloud's SDK reads are written
    node_names: tuple[str, ...]
    cloud_label: str

    def service(self, sc: AwsScenario) -> dict:
        return json.loads(self.cp.kubectl("-n", sc.namespace, "get", "svc", sc.service, "-o", "json").stdout)

    def env(self) -> dict[str, str]:
        return self.server.env(self.folder)

    @contextlib.contextmanager
    def health(self, overrides: dict) -> Iterator[None]:
        """The backends' health while a diagnosis runs, and a call the identity may not make
        (``__denied__``), set on the stand-in server."""
        denied = overrides.get("__denied__")
        self.server.health = {k: v for k, v in overrides.items() if not k.startswith("__")}
        if denied:
            self.server.denied.add(denied)
        try:
            yield
        finally:
            self.server.health, self.server.denied = {}, set()


@contextlib.contextmanager
def world(cp: Any) -> Iterator[World]:
    """Start moto on 127.0.0.1 (an ephemeral port), create the account and its nodes."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"
        acct = aws.Account.create(f"http://{host}:{port}")
        for i, (name, ip) in enumerate(zip(NODE_NAMES, NODE_IPS)):
            cp.add_node(name, ip=ip, provider_id=acct.provider_id(i),
                        labels={"topology.kubernetes.io/zone": acct.instances[i]["zone"], "cloud": "aws"})
        yield World(cp, acct)
    finally:
        server.stop()


@contextlib.contextmanager
def reading(w: World, sc: AwsScenario, overrides: dict) -> Iterator[dict[str, str]]:
    """While svcdoctor reads the account: the health overrides, and for a scenario that
    withholds a permission, moto enforcing IAM for a user without it. Yields the env."""
    from moto.core.authorization import enable_iam_authentication

    env = w.identity(sc.deny) if sc.deny else w.acct.env()
    with aws.target_health(overrides), (enable_iam_authentication() if sc.deny else contextlib.nullcontext()):
        yield env


def run(w: Any, sc: AwsScenario) -> dict[str, Any]:
    """Create the scenario's Service and pods, play the controller; the health overrides."""
    cp = w.cp
    cp.create_namespace(sc.namespace)
    pin = "\n".join([f"nodeSelector: {{cloud: {w.cloud_label}}}", "affinity:", "  nodeAffinity:",
                     "    requiredDuringSchedulingIgnoredDuringExecution:",
                     "      nodeSelectorTerms:",
                     f"      - matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: "
                     f"[{', '.join(w.node_names[i] for i in sc.on_nodes)}]}}]"]) + "\n"
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": sc.service, "namespace": sc.namespace, "annotations": sc.annotations},
           "spec": {"type": "LoadBalancer", "selector": {"app": sc.service},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                    **({"externalTrafficPolicy": "Local"} if sc.local else {})}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(svc) + "\n---\n"
               + deployment(sc.service, sc.namespace, {"app": sc.service}, extra_pod=pin))
    cp.wait_until(lambda: len(pods(cp, sc.namespace)) == 2 and all(ready(p) for p in pods(cp, sc.namespace)),
                  timeout=60, what=f"{sc.name}: pods ready")

    class _Sc:  # _slices_settled reads only these
        namespace, service = sc.namespace, sc.service
    cp.wait_until(lambda: _slices_settled(cp, _Sc), timeout=60, what=f"{sc.name}: slices")
    overrides = sc.build(w, sc, w.service(sc))
    time.sleep(0.3)
    return overrides


def _ports(svc: dict) -> tuple[int, int | None]:
    spec = svc["spec"]
    return spec["ports"][0]["nodePort"], spec.get("healthCheckNodePort")


def _nlb(w: World, sc: AwsScenario, svc: dict, **kw: Any) -> dict[str, str]:
    node_port, hc_port = _ports(svc)
    health = ("HTTP", hc_port, "/healthz") if hc_port else None
    lb = aws.in_tree_nlb(w.acct, sc.namespace, sc.service, svc["metadata"]["uid"], port=80, node_port=node_port,
                         health=health, **kw)
    w.set_hostname(sc, lb["hostname"])
    return lb


def _healthy(w: World, sc: AwsScenario, svc: dict) -> dict:
    _nlb(w, sc, svc)
    return {}


def _local_by_design(w: World, sc: AwsScenario, svc: dict) -> dict:
    """ETP Local, pods on the first node: the other two answer 503 on healthCheckNodePort."""
    _nlb(w, sc, svc)
    return {w.acct.instances[i]["id"]: ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
            for i in (1, 2)}


def _sg_blocks(w: World, sc: AwsScenario, svc: dict) -> dict:
    """The health-check rule was never added to the nodes' security group: every check fails."""
    _nlb(w, sc, svc, health_rule=False)
    return {i["id"]: ("unhealthy", "Target.FailedHealthChecks", "Health checks failed") for i in w.acct.instances}


def _deleted(w: World, sc: AwsScenario, svc: dict) -> dict:
    """A Classic ELB, deleted out of band: the Service keeps its hostname."""
    node_port, _ = _ports(svc)
    lb = aws.in_tree_clb(w.acct, sc.namespace, sc.service, svc["metadata"]["uid"], port=80, node_port=node_port)
    w.set_hostname(sc, lb["hostname"])
    w.acct.client("elb").delete_load_balancer(LoadBalancerName=lb["name"])
    return {}


def _listener_moved(w: World, sc: AwsScenario, svc: dict) -> dict:
    """Someone changed the listener to 8080 in the console; the Service still says 80."""
    _nlb(w, sc, svc, listener_port=8080)
    return {}


def _one_group_missed(w: World, sc: AwsScenario, svc: dict) -> dict:
    """The health-check rule went into the main node group's security group only; the spot
    group's (the third node) never got it: that node fails while the pods are all Ready."""
    _nlb(w, sc, svc, rule_groups=[w.acct.node_sg])
    return {w.acct.instances[2]["id"]: ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")}


def _wrong_health_port(w: World, sc: AwsScenario, svc: dict) -> dict:
    """aws-load-balancer-healthcheck-port names the container's port (8080), which no node
    listens on in instance mode: every target fails."""
    node_port, _ = _ports(svc)
    lb = aws.in_tree_nlb(w.acct, sc.namespace, sc.service, svc["metadata"]["uid"], port=80, node_port=node_port,
                         health=("TCP", 8080, ""))
    w.set_hostname(sc, lb["hostname"])
    return {i["id"]: ("unhealthy", "Target.FailedHealthChecks", "Health checks failed") for i in w.acct.instances}


def _stopped_node(w: World, sc: AwsScenario, svc: dict) -> dict:
    """The third node's instance was stopped but is still registered (moto: Target.InvalidState)."""
    _nlb(w, sc, svc)
    w.acct.client("ec2").stop_instances(InstanceIds=[w.acct.instances[2]["id"]])
    return {}


def _ip_zone_not_enabled(w: World, sc: AwsScenario, svc: dict) -> dict:
    """The AWS Load Balancer Controller's NLB with ip targets; found by its hostname. One pod
    runs in a zone whose subnet the load balancer does not use: Target.NotInUse."""
    ips = [p["status"]["podIP"] for p in pods(w.cp, sc.namespace)]
    lb = aws.lbc_nlb_ip(w.acct, sc.namespace, sc.service, svc["metadata"]["uid"], port=80, target_port=8080,
                        pod_ips=ips)
    w.set_hostname(sc, lb["hostname"])
    return {ips[1]: ("unused", "Target.NotInUse", "Target is in an Availability Zone that is not enabled for the "
                     "load balancer")}


LBC_IP = {"service.beta.kubernetes.io/aws-load-balancer-type": "external",
          "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}

SCENARIOS = [
    AwsScenario("cloud-nlb-healthy", "An in-tree NLB, every node healthy.", "aws-ok", "web", _healthy, []),
    AwsScenario("cloud-nlb-local-by-design",
                "externalTrafficPolicy Local with both pods on one node: the other two nodes fail the "
                "health check on healthCheckNodePort, as designed.",
                "aws-local", "api", _local_by_design, ["lb-targets-unhealthy", "local-policy-single-node"], local=True),
    AwsScenario("cloud-nlb-sg-blocks",
                "The nodes' security group lacks the health-check rule from the NLB's subnets: every target fails.",
                "aws-sg", "shop", _sg_blocks, ["lb-no-healthy-targets", "lb-security-group-blocks",
                                                "local-policy-single-node"], local=True),
    AwsScenario("cloud-clb-deleted", "The Classic ELB was deleted in the console; the Service still shows its hostname.",
                "aws-gone", "blog", _deleted, ["lb-not-found-in-cloud"], annotations={}),
    AwsScenario("cloud-nlb-listener-moved", "The NLB's listener was moved to 8080 by hand; the Service serves 80.",
                "aws-moved", "pay", _listener_moved, ["lb-listener-mismatch"]),
    AwsScenario("cloud-lbc-ip-zone-not-enabled",
                "An AWS Load Balancer Controller NLB with ip targets; one pod's zone is not enabled on it.",
                "aws-ip", "search", _ip_zone_not_enabled, ["lb-targets-unhealthy"], annotations=LBC_IP, on_nodes=(0, 1)),
    AwsScenario("cloud-nlb-one-group-missed",
                "The third node is in a second node group whose security group lacks the health-check rule: it "
                "fails while every pod is Ready.", "aws-spot", "feed", _one_group_missed,
                ["lb-targets-unhealthy", "lb-security-group-blocks"], on_nodes=(0, 1)),
    AwsScenario("cloud-nlb-wrong-health-port",
                "The health-check port annotation names the container port 8080; nodes listen on the NodePort.",
                "aws-hcport", "media", _wrong_health_port, ["lb-listener-mismatch", "lb-no-healthy-targets"],
                annotations={**NLB, "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": "8080"}),
    AwsScenario("cloud-nlb-health-denied",
                "svcdoctor's IAM identity lacks elasticloadbalancing:DescribeTargetHealth (moto enforcing IAM).",
                "aws-denied", "ads", _healthy, [], deny="elasticloadbalancing:DescribeTargetHealth"),
    AwsScenario("cloud-nlb-stopped-node", "One node's instance is stopped but still registered.",
                "aws-stopped", "cart", _stopped_node, ["lb-targets-unhealthy"]),
]
BY_NAME = {s.name: s for s in SCENARIOS}
