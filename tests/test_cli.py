"""The installed CLI, run as a user runs it: exit codes, one-line errors, formats, demo."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
REC = ROOT / "svcdoctor" / "recordings"


def run(*args: str, env: dict | None = None, prog: str = "svcdoctor") -> subprocess.CompletedProcess:
    return subprocess.run([cli(prog), *args], capture_output=True, text=True, timeout=60,
                          env=env or {**os.environ, "NO_COLOR": "1"})


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_demo_on_a_fresh_machine(no_cluster_env):
    """README's first command: no cluster configured → the bundled recording is diagnosed."""
    proc = run("diagnose", env=no_cluster_env)
    assert proc.returncode == 0  # the demo succeeded; its verdict is about a recording
    assert "CRITICAL: Selector app=web-api matches no pod in namespace shop" in proc.stdout
    assert "kubectl -n shop patch service web-api" in proc.stdout
    assert "no cluster configured" in proc.stderr
    listing = run("demo", "--list", env=no_cluster_env)
    assert listing.returncode == 0 and "readiness-failing" in listing.stdout


def test_kubectl_plugin_name_works_the_same():
    proc = run("diagnose", "svc/web-api", "-n", "shop", "--from", str(REC / "selector-typo.yaml"),
               prog="kubectl-svcdoctor")
    assert proc.returncode == 2 and "selector-matches-no-pods" in proc.stdout


def test_json_output_schema():
    proc = run("diagnose", "--from", str(REC / "node-notready.yaml"), "-o", "json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["target"] == "reports/reports" and doc["verdict"].startswith("CRITICAL")
    first, second = doc["findings"][:2]
    for f in (first, second):
        assert set(f) >= {"id", "severity", "title", "explanation", "facts", "evidence", "fix", "caused_by"}
        assert all({"kind", "object", "text"} <= set(r) for r in f["evidence"])
        assert all(step["text"] for step in f["fix"])
    assert (first["id"], first["caused_by"]) == ("endpoints-on-notready-node", None)
    assert (second["id"], second["caused_by"]) == ("no-ready-endpoints", "endpoints-on-notready-node")
    assert first["facts"]["nodes"] == ["node-d"]


def test_markdown_output():
    proc = run("diagnose", "--from", str(REC / "target-port-name-missing.yaml"), "-o", "markdown")
    assert proc.returncode == 2
    assert proc.stdout.startswith("## svcdoctor: Service `blog/blog`")
    assert "`target-port-name-not-found`" in proc.stdout and "```sh" in proc.stdout


def test_exit_codes_by_severity():
    assert run("diagnose", "--from", str(REC / "healthy-clusterip.yaml")).returncode == 0
    assert run("diagnose", "--from", str(REC / "some-not-ready.yaml")).returncode == 1
    assert run("diagnose", "--from", str(REC / "selector-typo.yaml")).returncode == 2


def test_text_report_has_no_colour_when_piped():
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), env={**os.environ})
    assert "\x1b[" not in proc.stdout


@pytest.mark.parametrize("args, code, needle", [
    (["diagnose", "deploy/web", "--from", "x.yaml"], 3, "svcdoctor diagnoses Services"),
    (["diagnose", "svc/", "--from", "x.yaml"], 3, "the Service name is missing"),
    (["diagnose", "svc/Web_1", "--from", "x.yaml"], 3, "not a valid Service name"),
    (["diagnose", "svc/a/b", "--from", "x.yaml"], 3, "malformed target"),
    (["diagnose", "--bogus"], 3, "unrecognized arguments"),
    (["diagnose", "svc/web", "-n", "Bad_NS", "--from", "x.yaml"], 3, "not a valid namespace"),
    (["diagnose", "svc/web", "--from", "/nonexistent.yaml"], 4, "no such file"),
    (["demo", "nope"], 3, "no bundled recording"),
])
def test_bad_input_one_line_nonzero(args, code, needle):
    proc = run(*args)
    assert proc.returncode == code
    assert needle in one_line_error(proc)


def test_target_not_in_input_suggests(tmp_path):
    proc = run("diagnose", "svc/web-apii", "-n", "shop", "--from", str(REC / "selector-typo.yaml"))
    assert proc.returncode == 3 and "recording of shop/web-api" in one_line_error(proc)


def test_corrupt_recording(tmp_path):
    bad = tmp_path / "rec.yaml"
    bad.write_text((REC / "selector-typo.yaml").read_text()[:700])  # cut mid-way
    proc = run("diagnose", "--from", str(bad))
    assert proc.returncode == 4 and str(bad) in one_line_error(proc)


def test_no_kubeconfig(no_cluster_env):
    proc = run("diagnose", "svc/web", "-n", "shop", env=no_cluster_env)
    assert proc.returncode == 4 and "no cluster configured" in one_line_error(proc)


def test_playbook_override(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "id: selector-matches-no-pods\n"
        "links: [https://runbooks.example.internal/k8s/selectors]\n")
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--playbooks", str(tmp_path))
    assert "https://runbooks.example.internal/k8s/selectors" in proc.stdout
    assert "Selector app=web-api matches no pod" in proc.stdout  # the rest is still built in
    (tmp_path / "broken.yaml").write_text("id: x\nbogus: 1\n")
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--playbooks", str(tmp_path))
    assert proc.returncode == 3 and "unknown keys" in one_line_error(proc)


def test_disable_a_check():
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--disable", "backends.selector")
    assert proc.returncode == 0


def test_record_refuses_to_overwrite_and_writes_atomically(tmp_path):
    out = tmp_path / "r.yaml"
    out.write_text("keep me")
    proc = run("record", "svc/web-api", "-n", "shop", "--from", str(REC / "selector-typo.yaml"),
               "-o", str(out))
    assert proc.returncode == 3 and "--force" in one_line_error(proc)
    assert out.read_text() == "keep me"
    proc = run("record", "svc/web-api", "-n", "shop", "--from", str(REC / "selector-typo.yaml"),
               "-o", str(out), "--force")
    assert proc.returncode == 0, proc.stderr
    replay = run("diagnose", "--from", str(out), "-o", "json")
    assert [f["id"] for f in json.loads(replay.stdout)["findings"]] == ["selector-matches-no-pods"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.yaml"]  # no temp file left behind


# --- every user-facing path: one line, the documented exit code ----------------------------

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
contexts: [{name: prod, context: {cluster: c, user: u}}, {name: staging, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: secret-token-value}}]
"""


@pytest.mark.parametrize("content, code, needle", [
    ("hello\n", 4, "not a kubeconfig"),                       # a file that is not a kubeconfig
    ("a: [1\n", 4, "not valid YAML"),
    ("clusters: 5\n", 4, "clusters is an integer"),
    (KUBECONFIG.replace('"https://127.0.0.1:1"', "8443"), 4, "clusters[0].cluster.server is an integer"),
    (KUBECONFIG, 4, "connection refused"),                    # a good one: the API is not there
])
def test_kubeconfig_that_is_not_one(tmp_path, content, code, needle):
    path = tmp_path / "config"
    path.write_text(content)
    proc = run("diagnose", "svc/web", "-n", "shop", "--kubeconfig", str(path), "--request-timeout", "2s")
    line = one_line_error(proc)
    assert proc.returncode == code and needle in line, line
    assert "secret-token-value" not in line


def test_kubeconfig_paths_and_contexts(tmp_path):
    proc = run("diagnose", "svc/web", "-n", "shop", "--kubeconfig", str(tmp_path))
    assert proc.returncode == 4 and "cannot read it" in one_line_error(proc)
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    proc = run("diagnose", "svc/web", "-n", "shop", "--kubeconfig", str(path), "--context", "prd")
    assert proc.returncode == 3 and "did you mean 'prod'?" in one_line_error(proc)
    proc = run("diagnose", "svc/web", "-n", "shop", "--kubeconfig", str(path), "--context", "qa")
    assert proc.returncode == 3 and "(contexts: prod, staging)" in one_line_error(proc)


@pytest.mark.parametrize("output, needle", [
    ("{tmp}/missing/dir/r.yaml", "does not exist"),
    ("{tmp}", "is a directory"),
])
def test_record_output_that_cannot_be_written(tmp_path, output, needle):
    out = output.format(tmp=tmp_path)
    proc = run("record", "svc/web-api", "-n", "shop", "--from", str(REC / "selector-typo.yaml"), "-o", out)
    assert proc.returncode == 3 and needle in one_line_error(proc)
    assert not (tmp_path / "missing").exists()  # no folder created on the way
    assert list(tmp_path.iterdir()) == []


def test_plugin_and_check_names_are_checked():
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"),
               env={**os.environ, "NO_COLOR": "1", "SVCDOCTOR_PLUGINS": "backend"})
    assert proc.returncode == 3 and "did you mean 'backends'?" in one_line_error(proc)
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--disable", "backends.selectr")
    assert proc.returncode == 3 and "did you mean 'backends.selector'?" in one_line_error(proc)


def test_observed_at(tmp_path):
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--observed-at", "yesterday")
    assert proc.returncode == 3 and "RFC 3339" in one_line_error(proc)
    proc = run("diagnose", "svc/web", "--observed-at", "2026-11-30T14:05:00Z",
               env={**os.environ, "KUBECONFIG": str(tmp_path / "none")})
    assert proc.returncode == 3 and "--from input only" in one_line_error(proc)


def test_playbook_that_cannot_be_read(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes(b"id: selector-matches-no-pods\ntitle: \xe9t\xe9\n")
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--playbooks", str(tmp_path))
    assert proc.returncode == 3 and "latin1.yaml" in one_line_error(proc)
    (tmp_path / "latin1.yaml").write_text("id: selector-matches-no-pods\nfix: [{text: [1]}]\n")
    proc = run("diagnose", "--from", str(REC / "selector-typo.yaml"), "--playbooks", str(tmp_path))
    assert proc.returncode == 3 and "each entry of fix" in one_line_error(proc)


def test_malformed_object_names_object_and_field(tmp_path):
    """The issue's example: the first bad object and field, exit 4."""
    doc = yaml.safe_load((REC / "selector-typo.yaml").read_text())
    pod = next(i for i, o in enumerate(doc["items"]) if o["kind"] == "Pod")
    doc["items"][pod]["spec"]["containers"][0]["ports"] = "8080"
    listing = tmp_path / "dump.yaml"
    listing.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": doc["items"]}))
    proc = run("diagnose", "svc/web-api", "-n", "shop", "--from", str(listing))
    name = doc["items"][pod]["metadata"]["name"]
    assert proc.returncode == 4
    assert one_line_error(proc) == (f"svcdoctor: error: {listing}: items[{pod}] Pod shop/{name}: "
                                    "spec.containers[0].ports is a string (expected a list)")
