"""What the tests of the stand-in clouds (GCP, Azure) share: the world and scenario
fixtures, and a diagnosis with the cloud's health set while it runs."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from test_controlplane import svcdoctor


def fixtures(module: ModuleType, cluster: str) -> tuple[Any, Any]:
    """(world, made) module fixtures: the cloud and its control plane, and each scenario
    created once (name → the health it sets)."""
    @pytest.fixture(scope="module")
    def world(clusters, tmp_path_factory):
        with module.world(clusters(cluster), tmp_path_factory.mktemp(cluster)) as w:
            yield w

    @pytest.fixture(scope="module")
    def made(world):
        done: dict[str, dict] = {}

        def ensure(name: str) -> dict:
            if name not in done:
                done[name] = module.run(world, module.BY_NAME[name])
            return done[name]
        return ensure
    return world, made


def diagnose(module: ModuleType, w: Any, name: str, overrides: dict) -> tuple[int, dict]:
    """``svcdoctor diagnose`` as a user runs it: the cloud detected from the nodes."""
    sc = module.BY_NAME[name]
    with w.health(overrides):
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                         kubeconfig=w.cp.kubeconfig, env_extra=w.env())
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def ids(report: dict) -> list[str]:
    return sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify")


def unverified(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["id"] == "could-not-verify" and f["subject"] != "network reachability"]
