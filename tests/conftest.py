"""Shared fixtures. The control-plane tier skips locally without Go, but must run under CI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

import controlplane  # noqa: E402
import scenarios  # noqa: E402

IN_CI = os.environ.get("CI") == "true"

# The cloud SDKs look for credentials on the instance metadata services (169.254.169.254,
# metadata.google.internal; Azure's managed identity) when nothing else gives them: never
# from a test. Every
# svcdoctor the tests start inherits this, so a Service on nodes with an aws:// or gce://
# providerID gets "could not verify" at once instead of a dial off the machine. The tests
# that read a cloud pass their emulator's endpoint and credentials explicitly.
os.environ.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                   "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "NO_GCE_CHECK": "True",
                   "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
                   "CLOUDSDK_CONFIG": os.devnull,
                   # azure-identity: one credential that needs env vars the tests never set
                   "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential"})
for _key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "GOOGLE_APPLICATION_CREDENTIALS", "AWS_ENDPOINT_URL", "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
             "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "SVCDOCTOR_AZURE_ARM_ENDPOINT"):
    os.environ.pop(_key, None)


@pytest.fixture(scope="session")
def cp():
    """A running control plane with the scenario nodes (one per test session)."""
    ok, reason = controlplane.ControlPlane.available()
    if not ok:
        if IN_CI:
            pytest.fail(f"control plane unavailable under CI: {reason}")
        pytest.skip(f"control plane unavailable: {reason}")
    with controlplane.ControlPlane() as plane:
        scenarios.prepare(plane)
        yield plane


@pytest.fixture(scope="session")
def clusters(cp):
    """The control plane a scenario runs on: ``clusters(sc.cluster)``. "" is the shared one;
    the others (scenarios.CLUSTERS: MetalLB's CRDs, labelled nodes) are started on first
    use, one at a time, so cluster-wide objects never leak into other scenarios."""
    running: dict[str, controlplane.ControlPlane] = {}

    def get(name: str) -> controlplane.ControlPlane:
        if not name:
            return cp
        if name not in running:
            for other in list(running):
                running.pop(other).stop()
            plane = controlplane.ControlPlane().start()
            try:
                scenarios.prepare(plane, name)
            except BaseException:
                plane.stop()
                raise
            running[name] = plane
        return running[name]

    yield get
    for plane in running.values():
        plane.stop()


@pytest.fixture
def no_cluster_env(tmp_path, monkeypatch):
    """An environment with no kubeconfig anywhere, as on a fresh machine."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env["HOME"] = str(tmp_path)
    return env
