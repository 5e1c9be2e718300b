"""Plugins: entry-point registration exactly as a third party does it, listing, failures."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers import cli

from svcdoctor import hookspecs, registry

ROOT = Path(__file__).resolve().parents[1]
REC = ROOT / "svcdoctor" / "recordings"

PLUGIN = '''
from svcdoctor import hookimpl
from svcdoctor.findings import Finding, Severity

@hookimpl
def register_checks(register):
    register(team_label_required, emits=("acme-team-label-missing",))

def team_label_required(evidence):
    labels = evidence.service["metadata"].get("labels") or {}
    if "team" not in labels:
        yield Finding("acme-team-label-missing", Severity.WARNING, f"Service {evidence.target}",
                      facts={"label": "team"})
'''


def install_fake_distribution(site: Path, module: str, source: str) -> None:
    """A real, minimal installed distribution: module + dist-info with entry_points.txt."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[svcdoctor]\n{module} = {module}\n")


def run(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    return subprocess.run([cli(), *args], capture_output=True, text=True, env=env, timeout=60)


def test_third_party_plugin_finding_reaches_the_report(tmp_path):
    install_fake_distribution(tmp_path, "acme_checks", PLUGIN)
    listing = run(tmp_path, "plugins")
    assert "acme_checks  (hooks: register_checks)" in listing.stdout
    assert "acme_checks.team_label_required" in listing.stdout
    proc = run(tmp_path, "diagnose", "--from", str(REC / "healthy-clusterip.yaml"), "-o", "json")
    report = json.loads(proc.stdout)
    ids = [f["id"] for f in report["findings"]]
    assert ids == ["acme-team-label-missing"] and proc.returncode == 1
    assert report["findings"][0]["check"] == "acme_checks.team_label_required"


def test_misspelled_hook_fails_loudly(tmp_path):
    install_fake_distribution(tmp_path, "typo_checks", """
        from svcdoctor import hookimpl

        @hookimpl
        def register_check(register):
            pass
    """)
    proc = run(tmp_path, "diagnose", "--from", str(REC / "healthy-clusterip.yaml"))
    assert proc.returncode == 3
    assert "typo_checks" in proc.stderr and "register_check" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plugin_that_raises_is_could_not_verify(tmp_path):
    install_fake_distribution(tmp_path, "crashy", """
        from svcdoctor import hookimpl

        @hookimpl
        def register_checks(register):
            register(boom, emits=("crashy-thing",))

        def boom(evidence):
            raise RuntimeError("kaboom")
    """)
    proc = run(tmp_path, "diagnose", "--from", str(REC / "selector-typo.yaml"), "-o", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 2  # the built-in findings still stand
    cnv = [f for f in report["findings"] if f["id"] == "could-not-verify"]
    assert any("kaboom" in f["explanation"] for f in cnv)


def test_builtins_register_through_entry_points_only():
    reg = registry.build(only="backends")
    assert [name for name, _, _ in reg.plugins()] == ["backends"]
    full = {name for name, _, _ in registry.build().plugins()}
    assert {"backends", "ports", "coverage"} <= full


def test_every_hook_is_documented_with_its_signature():
    specs = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(f, "svcdoctor_spec")]
    assert specs
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc and "Return" in doc, spec.__name__
        for param in inspect.signature(spec).parameters:
            assert f"``{param}(" in doc or param in doc, (spec.__name__, param)


def test_check_without_declared_ids_is_rejected():
    from svcdoctor.errors import UsageError

    class Bad:
        @hookspecs.hookimpl
        def register_checks(self, register):
            register(lambda ev: [])

    with pytest.raises(UsageError, match="must declare the finding IDs"):
        registry.build(extra_plugins=[("bad", Bad())], only="backends")


# MetalLB's messages as its controller and speaker format them (metallb controller/service.go,
# internal/allocator; shared/reference/failure-modes.md §2.5) → the cause they translate to.
METALLB_MESSAGES = [
    ('Failed to allocate IP for "pihole/pihole-dns-udp": no available IPs', "pool-exhausted", {}),
    ('Failed to allocate IP for "a/b": no available IPs in pool "tiny"', "pool-exhausted", {"pool": "tiny"}),
    ('Failed to allocate IP for "service-a": ["<nil>"] is not allowed in config', "pool-exhausted", {}),
    ('Failed to allocate IP for "a/b": "192.168.87.9" is not allowed in config', "ip-not-in-pool",
     {"ip": "192.168.87.9"}),
    ('cannot assign "192.168.0.40" to "kube-system/ingress", no pool owns that IP', "ip-not-in-pool",
     {"ip": "192.168.0.40"}),
    ('Failed to allocate IP for "a/b": unknown pool "lan-pool"', "unknown-pool", {"pool": "lan-pool"}),
    ('Failed to allocate IP for "a/b": no suitable pool for ipv6 IPFamily', "no-pool-for-family",
     {"family": "ipv6"}),
    ('Failed to allocate IP for "a/b": backend key "app=x" does not match existing sharing key ""',
     "sharing-backend-key", {}),
    ('Failed to allocate IP for "a/b": port TCP/80 is already in use on "10.0.0.5"', "sharing-conflict",
     {"port": "TCP/80"}),
    ('Failed to allocate IP for "a/b": existing service does not allow sharing', "sharing-conflict", {}),
]


@pytest.mark.parametrize("message,cause,groups", METALLB_MESSAGES)
def test_metallb_messages_translate(message, cause, groups):
    from svcdoctor.plugins.metallb import translate

    entry, found = translate(message)
    assert entry is not None and entry["id"] == cause
    assert groups.items() <= found.items()
