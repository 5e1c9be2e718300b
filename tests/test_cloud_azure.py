"""The cloud's own view of a LoadBalancer Service, Azure: the reader calls Resource Manager
over HTTP (tests/azure_server.py on 127.0.0.1) with a token azure-identity got from the
Azure CLI credential, for Services on the real control plane whose nodes are the instances
of an AKS scale set (tests/azure_scenarios.py)."""

from __future__ import annotations

import json

import pytest

import azure_scenarios
from azure_scenarios import BY_NAME, SCENARIOS
from test_controlplane import svcdoctor


@pytest.fixture(scope="module")
def azure_world(clusters, tmp_path_factory):
    with azure_scenarios.world(clusters("azure-cloud"), tmp_path_factory.mktemp("az")) as w:
        yield w


@pytest.fixture(scope="module")
def made(azure_world):
    done: dict[str, dict] = {}

    def ensure(name: str) -> dict:
        if name not in done:
            done[name] = azure_scenarios.run(azure_world, BY_NAME[name])
        return done[name]
    return ensure


def diagnose(w, name: str, overrides: dict) -> tuple[int, dict]:
    sc = BY_NAME[name]
    with azure_scenarios.health(w, overrides):
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                         kubeconfig=w.cp.kubeconfig, env_extra=w.env())
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _ids(report: dict) -> list[str]:
    return sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify")


def _cnv(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["id"] == "could-not-verify" and f["subject"] != "network reachability"]


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_read_from_resource_manager(azure_world, made, name):
    """The cloud is detected from the nodes' providerID (azure:///subscriptions/…)."""
    code, report = diagnose(azure_world, name, made(name))
    assert _ids(report) == sorted(BY_NAME[name].expect)
    assert bool(_cnv(report)) == (name == "azure-lb-health-denied"), [f["facts"] for f in _cnv(report)]
    assert azure_scenarios.SUB not in json.dumps(report["findings"])


def test_backends_map_to_scale_set_nodes(azure_world, made):
    code, report = diagnose(azure_world, "azure-lb-local-by-design", made("azure-lb-local-by-design"))
    (f,) = [f for f in report["findings"] if f["id"] == "lb-targets-unhealthy"]
    assert f["severity"] == "info" and f["facts"]["by_design_only"] == 2
    assert f["facts"]["states"][0].startswith(f"{azure_scenarios.NODES[1]}: UNHEALTHY — the health probe failed (Http port ")
    assert any("learn.microsoft.com" in link for link in f["links"])


def test_a_denied_health_action_is_named(azure_world, made):
    code, report = diagnose(azure_world, "azure-lb-health-denied", made("azure-lb-health-denied"))
    (f,) = _cnv(report)
    assert f["facts"]["reason"] == ("Microsoft.Network/loadBalancers/loadBalancingRules/health/action was denied "
                                    "(AccessDenied)")
    assert f["fix"][0]["command"] == "az account show"
