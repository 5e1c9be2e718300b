"""The cloud's own view of a LoadBalancer Service, GCP: the reader calls the Compute API
over HTTP (tests/gcp_server.py on 127.0.0.1) with a token google-auth refreshed from
Application Default Credentials, for Services on the real control plane whose nodes are
the emulated instances (tests/gcp_scenarios.py)."""

from __future__ import annotations

import json

import pytest

import cloud_tests
import gcp_scenarios
from cloud_tests import ids, unverified
from gcp_scenarios import BY_NAME, SCENARIOS

world, made = cloud_tests.fixtures(gcp_scenarios, "gcp-cloud")


def diagnose(w, name: str, overrides: dict) -> tuple[int, dict]:
    return cloud_tests.diagnose(gcp_scenarios, w, name, overrides)


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_read_from_the_compute_api(world, made, name):
    """The cloud is detected from the nodes' providerID (gce://…): no --cloud needed."""
    code, report = diagnose(world, name, made(name))
    assert ids(report) == sorted(BY_NAME[name].expect)
    assert bool(unverified(report)) == (name == "gcp-netlb-health-denied"), [f["facts"] for f in unverified(report)]
    assert gcp_scenarios.PROJECT not in json.dumps(report["findings"])


def test_firewall_finding_gives_the_rule_to_create(world, made):
    code, report = diagnose(world, "gcp-netlb-firewall-missing", made("gcp-netlb-firewall-missing"))
    svc = world.service(BY_NAME["gcp-netlb-firewall-missing"])
    (f,) = [f for f in report["findings"] if f["id"] == "lb-security-group-blocks"]
    port = svc["spec"]["healthCheckNodePort"]
    lb = f["facts"]["lb"].split()[-1]
    # every rule that applies to the nodes is listed (other Services' too); none admits the port
    assert f["facts"]["port"] == port and f"k8s-fw-{lb}" in f["facts"]["rules"]
    assert f"k8s-k8s-{gcp_scenarios.CLUSTER_ID}-node-http-hc" in f["facts"]["rules"]   # 10256, not {port}
    assert f["facts"]["command"].endswith(f"--allow tcp:{port} --source-ranges 35.191.0.0/16,209.85.152.0/22,"
                                          f"209.85.204.0/22 --target-tags {gcp_scenarios.NODE_TAG}")
    assert any("cloud.google.com" in link for link in f["links"]) and not any("aws" in link for link in f["links"])


def test_a_denied_call_names_the_permission_and_the_rest_is_read(world, made):
    code, report = diagnose(world, "gcp-netlb-health-denied", made("gcp-netlb-health-denied"))
    (f,) = unverified(report)
    assert f["facts"]["reason"] == "compute.targetPools.get was denied (AccessDenied)"
    assert f["fix"][0]["command"] == "gcloud auth list"


def test_deleted_forwarding_rule(world, made):
    code, report = diagnose(world, "gcp-netlb-deleted", made("gcp-netlb-deleted"))
    (f,) = [f for f in report["findings"] if f["id"] == "lb-not-found-in-cloud"]
    assert f["facts"]["address"] == gcp_scenarios.LB_IP and f["facts"]["provider"] == "GCP"
    assert "gcloud compute forwarding-rules list --filter=region:us-central1" in [s["command"] for s in f["fix"]]
