"""The cloud's own view of a LoadBalancer Service, GCP: the reader calls the Compute API
over HTTP (tests/gcp_server.py on 127.0.0.1) with a token google-auth refreshed from
Application Default Credentials, for Services on the real control plane whose nodes are
the emulated instances (tests/gcp_scenarios.py)."""

from __future__ import annotations

import json

import pytest

import gcp_scenarios
from gcp_scenarios import BY_NAME, SCENARIOS
from test_controlplane import svcdoctor


@pytest.fixture(scope="module")
def gcp_world(clusters, tmp_path_factory):
    with gcp_scenarios.world(clusters("gcp-cloud"), tmp_path_factory.mktemp("adc")) as w:
        yield w


@pytest.fixture(scope="module")
def made(gcp_world):
    done: dict[str, dict] = {}

    def ensure(name: str) -> dict:
        if name not in done:
            done[name] = gcp_scenarios.run(gcp_world, BY_NAME[name])
        return done[name]
    return ensure


def diagnose(w, name: str, overrides: dict, *args: str) -> tuple[int, dict]:
    sc = BY_NAME[name]
    with gcp_scenarios.health(w, overrides):
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                         *args, kubeconfig=w.cp.kubeconfig, env_extra=w.env())
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _ids(report: dict) -> list[str]:
    return sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify")


def _cnv(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["id"] == "could-not-verify" and f["subject"] != "network reachability"]


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_read_from_the_compute_api(gcp_world, made, name):
    """The cloud is detected from the nodes' providerID (gce://…): no --cloud needed."""
    code, report = diagnose(gcp_world, name, made(name))
    assert _ids(report) == sorted(BY_NAME[name].expect)
    assert bool(_cnv(report)) == (name == "gcp-netlb-health-denied"), [f["facts"] for f in _cnv(report)]
    assert gcp_scenarios.PROJECT not in json.dumps(report["findings"])


def test_firewall_finding_gives_the_rule_to_create(gcp_world, made):
    code, report = diagnose(gcp_world, "gcp-netlb-firewall-missing", made("gcp-netlb-firewall-missing"))
    svc = gcp_world.service(BY_NAME["gcp-netlb-firewall-missing"])
    (f,) = [f for f in report["findings"] if f["id"] == "lb-security-group-blocks"]
    port = svc["spec"]["healthCheckNodePort"]
    lb = f["facts"]["lb"].split()[-1]
    # every rule that applies to the nodes is listed (other Services' too); none admits the port
    assert f["facts"]["port"] == port and f"k8s-fw-{lb}" in f["facts"]["rules"]
    assert f"k8s-k8s-{gcp_scenarios.CLUSTER_ID}-node-http-hc" in f["facts"]["rules"]   # 10256, not {port}
    assert f["facts"]["command"].endswith(f"--allow tcp:{port} --source-ranges 35.191.0.0/16,209.85.152.0/22,"
                                          f"209.85.204.0/22 --target-tags {gcp_scenarios.NODE_TAG}")
    assert any("cloud.google.com" in link for link in f["links"]) and not any("aws" in link for link in f["links"])


def test_a_denied_call_names_the_permission_and_the_rest_is_read(gcp_world, made):
    code, report = diagnose(gcp_world, "gcp-netlb-health-denied", made("gcp-netlb-health-denied"))
    (f,) = _cnv(report)
    assert f["facts"]["reason"] == "compute.targetPools.get was denied (AccessDenied)"
    assert f["fix"][0]["command"] == "gcloud auth list"


def test_deleted_forwarding_rule(gcp_world, made):
    code, report = diagnose(gcp_world, "gcp-netlb-deleted", made("gcp-netlb-deleted"))
    (f,) = [f for f in report["findings"] if f["id"] == "lb-not-found-in-cloud"]
    assert f["facts"]["address"] == gcp_scenarios.LB_IP and f["facts"]["provider"] == "GCP"
    assert "gcloud compute forwarding-rules list --filter=region:us-central1" in [s["command"] for s in f["fix"]]
