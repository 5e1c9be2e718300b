"""The cloud's own view of a LoadBalancer Service, Azure: the reader calls Resource Manager
over HTTP (tests/azure_server.py on 127.0.0.1) with a token azure-identity got from the
Azure CLI credential, for Services on the real control plane whose nodes are the instances
of an AKS scale set (tests/azure_scenarios.py)."""

from __future__ import annotations

import json

import pytest

import azure_scenarios
import cloud_tests
from azure_scenarios import BY_NAME, SCENARIOS
from cloud_tests import ids, unverified

world, made = cloud_tests.fixtures(azure_scenarios, "azure-cloud")


def diagnose(w, name: str, overrides: dict) -> tuple[int, dict]:
    return cloud_tests.diagnose(azure_scenarios, w, name, overrides)


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_read_from_resource_manager(world, made, name):
    """The cloud is detected from the nodes' providerID (azure:///subscriptions/…)."""
    code, report = diagnose(world, name, made(name))
    assert ids(report) == sorted(BY_NAME[name].expect)
    assert bool(unverified(report)) == (name == "azure-lb-health-denied"), [f["facts"] for f in unverified(report)]
    assert azure_scenarios.SUB not in json.dumps(report["findings"])


def test_backends_map_to_scale_set_nodes(world, made):
    code, report = diagnose(world, "azure-lb-local-by-design", made("azure-lb-local-by-design"))
    (f,) = [f for f in report["findings"] if f["id"] == "lb-targets-unhealthy"]
    assert f["severity"] == "info" and f["facts"]["by_design_only"] == 2
    assert f["facts"]["states"][0].startswith(f"{azure_scenarios.NODES[1]}: UNHEALTHY — the health probe failed (Http port ")
    assert any("learn.microsoft.com" in link for link in f["links"])


def test_a_denied_health_action_is_named(world, made):
    code, report = diagnose(world, "azure-lb-health-denied", made("azure-lb-health-denied"))
    (f,) = unverified(report)
    assert f["facts"]["reason"] == ("Microsoft.Network/loadBalancers/loadBalancingRules/health/action was denied "
                                    "(AccessDenied)")
    assert f["fix"][0]["command"] == "az account show"
