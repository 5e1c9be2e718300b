"""The cloud's own view of a LoadBalancer Service, AWS: svcdoctor reads moto (server mode, on
127.0.0.1, in this process) through boto3 over HTTP, for Services on the real control plane
whose nodes are the emulated instances (tests/aws_scenarios.py)."""

from __future__ import annotations

import json

import pytest
import yaml

import aws_cloud
import aws_scenarios
from aws_scenarios import BY_NAME, SCENARIOS
from test_controlplane import ids, svcdoctor


@pytest.fixture(scope="module")
def aws_world(clusters):
    with aws_scenarios.world(clusters("aws-cloud")) as w:
        yield w


@pytest.fixture(scope="module")
def made(aws_world):
    """Scenarios created once each: name → health overrides."""
    done: dict[str, dict] = {}

    def ensure(name: str) -> dict:
        if name not in done:
            done[name] = aws_scenarios.run(aws_world, BY_NAME[name])
        return done[name]
    return ensure


def diagnose(w, name: str, overrides: dict, *args: str) -> tuple[int, dict]:
    sc = BY_NAME[name]
    with aws_scenarios.reading(w, sc, overrides) as env:
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                         "--cloud", "aws", *args, kubeconfig=w.cp.kubeconfig, env_extra=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _ids(report: dict) -> list[str]:
    return sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify")


def _one(report: dict, fid: str) -> dict:
    (f,) = [f for f in report["findings"] if f["id"] == fid]
    return f


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_read_from_the_emulated_account(aws_world, made, name):
    code, report = diagnose(aws_world, name, made(name))
    assert _ids(report) == sorted(BY_NAME[name].expect)
    # names, never ARNs or the account: what reaches Slack or an LLM is built from these
    assert "arn:aws" not in json.dumps(report["findings"]) and "123456789012" not in json.dumps(report["findings"])
    denied = [f["facts"]["reason"] for f in report["findings"] if f["id"] == "could-not-verify"
              and f["subject"] != "network reachability"]
    assert denied == ([f"{BY_NAME[name].deny} was denied (AccessDenied)"] if BY_NAME[name].deny else []), denied


def test_by_design_failures_are_info_and_name_no_fault(aws_world, made):
    code, report = diagnose(aws_world, "cloud-nlb-local-by-design", made("cloud-nlb-local-by-design"))
    f = _one(report, "lb-targets-unhealthy")
    assert f["severity"] == "info" and code == 1   # the warning is local-policy-single-node's
    assert f["facts"]["by_design_only"] == 2 and not f["facts"].get("with_endpoints")


def test_security_group_finding_names_the_port_the_group_and_the_subnets(aws_world, made):
    code, report = diagnose(aws_world, "cloud-nlb-sg-blocks", made("cloud-nlb-sg-blocks"))
    svc = aws_world.service(BY_NAME["cloud-nlb-sg-blocks"])
    f = _one(report, "lb-security-group-blocks")
    assert code == 2 and f["facts"]["port"] == svc["spec"]["healthCheckNodePort"]
    assert f["facts"]["groups"] == [f"{aws_world.acct.node_sg} (eks-cluster-sg-{aws_cloud.CLUSTER})"]
    assert f["facts"]["command"] == (f"aws ec2 authorize-security-group-ingress --group-id {aws_world.acct.node_sg} "
                                     f"--protocol tcp --port {svc['spec']['healthCheckNodePort']} --cidr 10.0.1.0/24")
    assert f["facts"]["more_cidrs"] == ["10.0.2.0/24"]
    none = _one(report, "lb-no-healthy-targets")
    assert none["facts"]["translation"] == "aws-failed-health-checks"
    assert "fails open" in none["facts"]["fail_open"]


def test_deleted_load_balancer(aws_world, made):
    code, report = diagnose(aws_world, "cloud-clb-deleted", made("cloud-clb-deleted"))
    svc = aws_world.service(BY_NAME["cloud-clb-deleted"])
    f = _one(report, "lb-not-found-in-cloud")
    assert f["facts"]["looked_for"] == aws_cloud.in_tree_name(svc["metadata"]["uid"])
    assert f["facts"]["lb_kind"] == "Classic ELB" and f["facts"]["region"] == "us-east-1"
    assert any("annotate service blog" in s["command"] for s in f["fix"])


def test_listener_moved(aws_world, made):
    code, report = diagnose(aws_world, "cloud-nlb-listener-moved", made("cloud-nlb-listener-moved"))
    f = _one(report, "lb-listener-mismatch")
    assert f["facts"]["missing"] == ["80"] and f["facts"]["extra"] == ["8080"]


def test_stopped_instance(aws_world, made):
    code, report = diagnose(aws_world, "cloud-nlb-stopped-node", made("cloud-nlb-stopped-node"))
    f = _one(report, "lb-targets-unhealthy")
    stopped = aws_world.acct.instances[2]["id"]
    assert f["severity"] == "warning" and f["facts"]["translation"] == "aws-invalid-state"
    assert f["facts"]["states"] == [f"{stopped} (node {aws_scenarios.NODE_NAMES[2]}): unused — Target.InvalidState, "
                                    "Target is in the stopped state"]


def test_recorded_cloud_state_replays_masked(aws_world, made, tmp_path):
    sc = BY_NAME["cloud-nlb-sg-blocks"]
    out = tmp_path / "rec.yaml"
    with aws_cloud.target_health(made(sc.name)):
        proc = svcdoctor("record", f"svc/{sc.service}", "-n", sc.namespace, "-o", str(out), "--cloud", "aws", "--no-probe",
                         kubeconfig=aws_world.cp.kubeconfig, env_extra=aws_world.acct.env())
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "123456789012" not in text and aws_cloud.CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in text
    assert ":<masked>:targetgroup/" in text
    doc = yaml.safe_load(text)
    assert doc["external"]["aws"]["load_balancer"]["name"] == aws_cloud.in_tree_name(
        aws_world.service(sc)["metadata"]["uid"])
    replay = svcdoctor("diagnose", "--from", str(out), "-o", "json")
    assert ids(replay) == sorted(sc.expect)


def test_denied_and_unreachable_are_could_not_verify(aws_world, made):
    """An endpoint that refuses (nothing listens on 127.0.0.1:9) within a 3 s deadline: one
    could-not-verify, naming the connection error or the deadline; the diagnosis goes on."""
    sc = BY_NAME["cloud-nlb-healthy"]
    made(sc.name)
    env = {**aws_world.acct.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}   # nothing listens on discard
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe", "--cloud", "aws",
                     "--cloud-timeout", "3s", kubeconfig=aws_world.cp.kubeconfig, env_extra=env)
    report = json.loads(proc.stdout)
    cnv = [f for f in report["findings"] if f["id"] == "could-not-verify" and f["subject"] != "network reachability"]
    assert _ids(report) == [] and len(cnv) == 1, report["findings"]
    assert "EndpointConnectionError" in cnv[0]["facts"]["reason"] or "Deadline" in cnv[0]["facts"]["reason"]


def test_cloud_none_reads_nothing(aws_world, made):
    sc = BY_NAME["cloud-nlb-sg-blocks"]
    with aws_cloud.target_health(made(sc.name)):
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                         "--cloud", "none", kubeconfig=aws_world.cp.kubeconfig, env_extra=aws_world.acct.env())
    assert ids(proc) == ["local-policy-single-node"]   # what Kubernetes alone shows


IAM_POLICY = aws_scenarios.ROOT / "deploy" / "aws-iam-policy.json"


def test_the_readme_iam_policy_is_enough_and_a_missing_action_is_named(aws_world, made):
    """moto enforcing IAM (its own enable_iam_authentication, in this process): the shipped
    policy reads everything; without DescribeTargetHealth the report names that action
    and still gives what it could read."""
    from moto.core.authorization import enable_iam_authentication

    sc = BY_NAME["cloud-nlb-sg-blocks"]
    overrides = made(sc.name)
    assert "elasticloadbalancing:DescribeTargetHealth" in json.loads(IAM_POLICY.read_text())["Statement"][0]["Action"]
    full = aws_world.identity()
    partial = aws_world.identity("elasticloadbalancing:DescribeTargetHealth")
    # Without target health nothing says the security group matters: only Kubernetes' finding stays.
    for env, expect, denied in ((full, sc.expect, []), (partial, ["local-policy-single-node"],
                                                     ["elasticloadbalancing:DescribeTargetHealth"])):
        with enable_iam_authentication(), aws_cloud.target_health(overrides):
            proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                             "--cloud", "aws", kubeconfig=aws_world.cp.kubeconfig, env_extra=env)
        report = json.loads(proc.stdout)
        cnv = [f for f in report["findings"] if f["id"] == "could-not-verify" and f["subject"] != "network reachability"]
        assert [f["facts"]["reason"].split(" was denied")[0] for f in cnv] == denied, cnv
        assert _ids(report) == sorted(expect)
        for f in cnv:
            assert f["fix"][0]["command"] == "aws sts get-caller-identity"


def test_lbc_ip_targets_found_by_hostname_and_mapped_to_pods(aws_world, made):
    sc = BY_NAME["cloud-lbc-ip-zone-not-enabled"]
    code, report = diagnose(aws_world, sc.name, made(sc.name))
    f = _one(report, "lb-targets-unhealthy")
    assert f["facts"]["translation"] == "aws-not-in-use" and f["facts"]["unhealthy"] == 1
    pods = {p["status"]["podIP"]: p for p in aws_scenarios.pods(aws_world.cp, sc.namespace)}
    ((ip, pod),) = [(ip, p) for ip, p in pods.items() if f["facts"]["states"][0].startswith(ip + " ")]
    assert f["facts"]["states"][0].startswith(
        f"{ip} (pod {pod['metadata']['name']} on node {pod['spec']['nodeName']}): unused — Target.NotInUse")


def test_one_node_group_missed_by_the_rule(aws_world, made):
    """Only the spot node fails, its pods elsewhere Ready: a warning for the target, and the
    spot group named, not the main one (which has the rule)."""
    code, report = diagnose(aws_world, "cloud-nlb-one-group-missed", made("cloud-nlb-one-group-missed"))
    (sg,) = [f for f in report["findings"] if f["id"] == "lb-security-group-blocks"]
    assert sg["facts"]["groups"] == [f"{aws_world.acct.spot_sg} (eks-nodegroup-spot-{aws_cloud.CLUSTER})"]
    assert sg["facts"]["node"] == aws_scenarios.NODE_NAMES[2]
    (bad,) = [f for f in report["findings"] if f["id"] == "lb-targets-unhealthy"]
    assert bad["severity"] == "warning" and bad["facts"]["unhealthy"] == 1 and bad["caused_by"] == "lb-security-group-blocks"


def test_health_check_on_the_container_port(aws_world, made):
    code, report = diagnose(aws_world, "cloud-nlb-wrong-health-port", made("cloud-nlb-wrong-health-port"))
    (f,) = [f for f in report["findings"] if f["id"] == "lb-listener-mismatch"]
    svc = aws_world.service(BY_NAME["cloud-nlb-wrong-health-port"])
    assert f["facts"]["target_groups"][0].endswith(f"probes port 8080, but the nodes answer on 10256, "
                                                   f"{svc['spec']['ports'][0]['nodePort']}")
    assert f["fix"][0]["command"].endswith("annotate service media "
                                           "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port-")
    (none,) = [x for x in report["findings"] if x["id"] == "lb-no-healthy-targets"]
    assert none["caused_by"] == "lb-listener-mismatch"
