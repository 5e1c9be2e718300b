"""``svcdoctor scan`` offline: the equivalence property over every recording and over
kubectl output holding many Services, suppressions, baselines, output formats, exit codes
and interruption. The live side is in test_scan_live.py (and in each control-plane
scenario's test)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
import yaml

from helpers import cli
from svcdoctor import collect, scan
from svcdoctor.diagnose import diagnose
from svcdoctor.errors import NotFoundError, UsageError
from svcdoctor.scan import Scope, ignore, outcome
from svcdoctor.sources import kubectl
from svcdoctor.wording import Playbooks

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = sorted((ROOT / "svcdoctor" / "recordings").glob("*.yaml"))


def findings(report) -> list[dict]:
    return [f.to_dict() for f in report.findings + report.could_not_verify]


def as_kubectl_list(items: list[dict], path: Path) -> Path:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_scan_of_a_recording_equals_its_diagnosis(path):
    result = scan.offline(path, Scope())
    (report,) = result.reports
    alone = diagnose(collect.offline(path, None, None))
    assert report.target == alone.target
    assert findings(report) == findings(alone)
    assert report.verdict == alone.verdict


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_scan_of_kubectl_output_equals_diagnose_of_each_service(path, tmp_path):
    """The recording's objects as `kubectl get -A -o json` output: every Service in it
    (the recorded one and any others listed with it), scanned and diagnosed one by one."""
    doc = yaml.safe_load(path.read_text())
    dump = as_kubectl_list(doc["items"], tmp_path / "dump.json")
    stamp = doc["metadata"]["recordedAt"]
    from svcdoctor.kube import parse_time

    when = parse_time(stamp)
    result = scan.offline(dump, Scope(), observed_at=when)
    services = {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in doc["items"] if i["kind"] == "Service"}
    assert sorted(r.target for r in result.reports) == sorted(services)
    for report in result.reports:
        ns, name = report.target.split("/")
        alone = diagnose(collect.offline(dump, name, ns, when))
        assert findings(report) == findings(alone), report.target


@pytest.fixture(scope="module")
def crowded(tmp_path_factory) -> Path:
    return crowded_dump(tmp_path_factory.mktemp("crowded"))


def crowded_dump(tmp_path: Path) -> Path:
    """Every recording's objects in one kubectl List: dozens of namespaces, a hundred
    Services, a thousand pods, MetalLB pools, Ingresses, routes and policies side by side
    (an object in several recordings appears once, as in a real dump)."""
    items, nodes = [], set()
    for p in RECORDINGS:
        for i in yaml.load(p.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["items"]:
            key = (i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"])
            if key in nodes:
                continue
            nodes.add(key)
            items.append(i)
    return as_kubectl_list(items, tmp_path / "crowded.json")


def test_crowded_dump_scan_equals_diagnose_for_every_service(crowded):
    dump = crowded
    result = scan.offline(dump, Scope())
    assert len(result.reports) >= 100
    broken = 0
    items = kubectl.load_items(dump)  # what collect.offline reads, loaded once for speed
    for report in result.reports:
        ns, name = report.target.split("/")
        alone = diagnose(kubectl.evidence_from_items(items, name, ns, str(dump)))
        assert findings(report) == findings(alone), report.target
        broken += report.exit_code > 0
    assert broken >= 10  # the scenarios' broken Services are among them, found as such
    # a namespace and a label selector narrow the scope
    ns = result.reports[0].target.split("/")[0]
    narrowed = scan.offline(dump, Scope(namespace=ns))
    assert {r.target.split("/")[0] for r in narrowed.reports} == {ns}
    assert scan.offline(dump, Scope(selector="no-such-label=x")).reports == []


def test_scope_errors_are_one_clear_line(tmp_path, crowded):
    dump = crowded
    with pytest.raises(NotFoundError, match=r"no Service in namespace 'crowded-typ'.*did you mean 'crowded-typo'"):
        scan.offline(dump, Scope(namespace="crowded-typ"))
    with pytest.raises(UsageError, match="is not a label value"):
        scan.offline(dump, Scope(selector="app=(x"))


# --- suppressions and baselines ---------------------------------------------------------

KNOWN = Playbooks.load().books


def write(tmp_path: Path, text: str, name: str = "ignore.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,message", [
    ("ignore: {id: x}", "expected a top-level `ignore:` list"),
    ("ignore:\n- id: selector-matches-no-pod\n  reason: r\n", "did you mean 'selector-matches-no-pods'"),
    ("ignore:\n- id: selector-matches-no-pods\n", "`reason` is required"),
    ("ignore:\n- id: selector-matches-no-pods\n  reason: r\n  expires: tomorrow\n", "is not a date"),
    ("ignore:\n- id: selector-matches-no-pods\n  reason: r\n  services: [web]\n", "namespace/name globs"),
    ("ignore:\n- id: selector-matches-no-pods\n  reason: r\n  namespaces: [a]\n", "unknown field 'namespaces'"),
    ("ignore:\n- &a {id: x}\n- *a\n", "not valid YAML"),
    ("ignore: [\n", "not valid YAML at line"),
])
def test_bad_ignore_files_are_one_line(tmp_path, text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("[", r"\[")) as exc:
        ignore.load(write(tmp_path, text), KNOWN)
    assert "\n" not in str(exc.value)


def test_suppressions_are_counted_and_expired_ones_reported(tmp_path, crowded):
    dump = crowded
    result = scan.offline(dump, Scope())
    hit = [r for r in result.reports if any(f.id == "selector-matches-no-pods" for f in r.findings)]
    assert len(hit) >= 3
    first_ns = hit[0].target.split("/")[0]
    rules = ignore.load(write(tmp_path, f"""
ignore:
  - id: selector-matches-no-pods
    services: ["{first_ns}/*"]
    reason: known, OPS-1
  - id: "target-port-*"
    reason: migrating, OPS-2
    expires: 2026-01-01
"""), KNOWN)
    a = outcome.assess(result, rules, today=date(2026, 12, 2))
    assert [r.id for r in a.expired] == ["target-port-*"]
    suppressed = [(s.target, f.id) for s in a.services for f, _ in s.suppressed]
    assert suppressed and all(t.startswith(first_ns + "/") and i == "selector-matches-no-pods"
                              for t, i in suppressed)
    assert a.counts()["suppressed"] == len(suppressed)
    # the expired entry applies no more: its findings are still there
    doc = a.to_dict()
    assert doc["expiredSuppressions"][0]["id"] == "target-port-*"
    still = [f["id"] for s in doc["services"] for f in s["findings"]]
    assert "selector-matches-no-pods" in still  # the other namespaces' ones
    # the day before it expired, the entry still applied to the target-port findings
    target_port = sum(f.id.startswith("target-port-") for r in result.reports for f in r.findings)
    assert target_port > 0
    before_expiry = outcome.assess(result, rules, today=date(2025, 12, 31))
    assert before_expiry.counts()["suppressed"] == a.counts()["suppressed"] + target_port


def test_baseline_marks_new_unchanged_cleared_and_only_new_fail(tmp_path, crowded):
    dump = crowded
    result = scan.offline(dump, Scope())
    first = outcome.assess(result)
    base = tmp_path / "base.json"
    base.write_text(json.dumps(first.to_dict()))
    assert first.exit_code() == 2
    again = outcome.assess(scan.offline(dump, Scope()), baseline=base)
    c = again.counts()
    assert c["new"] == 0 and c["cleared"] == 0 and c["unchanged"] == first.counts()["critical"] + \
        first.counts()["warning"] + first.counts()["info"]
    assert again.exit_code() == 0  # nothing new
    # one Service fixed, one newly broken: edit the dump as a deploy would
    doc = json.loads(dump.read_text())
    broken = next(s for s in first.broken() if any(f.id == "selector-matches-no-pods" for f in s.findings))
    healthy = next(s for s in first.services if s.worst is None and not s.findings and "/" in s.target)
    for i in doc["items"]:
        if i["kind"] == "Service" and f"{i['metadata']['namespace']}/{i['metadata']['name']}" == healthy.target:
            i["spec"]["selector"] = {"app": "nothing-has-this"}
        if i["kind"] == "Service" and f"{i['metadata']['namespace']}/{i['metadata']['name']}" == broken.target:
            i["spec"].pop("selector")  # a selector-less Service: no selector to match nothing
    (tmp_path / "next.json").write_text(json.dumps(doc))
    later = outcome.assess(scan.offline(tmp_path / "next.json", Scope()), baseline=base)
    new = [(s.target, f.id) for s in later.services for f in s.findings if s.state.get(id(f)) == "new"]
    assert (healthy.target, "selector-matches-no-pods") in new
    assert any(c["target"] == broken.target and c["id"] == "selector-matches-no-pods" for c in later.cleared)
    assert later.exit_code() == 2 and later.exit_code("none") == 0


@pytest.mark.parametrize("text,message", [
    ("{", "not JSON"), ('{"schema": "svcdoctor.report/v1"}', "not a scan report"),
    ('{"schema": "svcdoctor.scan/v1", "services": [{"target": 3}]}', "services[0] is not a Service report"),
])
def test_bad_baselines_are_one_line(tmp_path, text, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        outcome.load_baseline(write(tmp_path, text, "b.json"))


# --- output formats and exit codes, through the CLI ------------------------------------

def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    return subprocess.run([cli(), "scan", *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_cli_formats_and_fail_on(tmp_path, crowded):
    dump = crowded
    text = run("--from", str(dump))
    assert text.returncode == 2 and "Traceback" not in text.stderr
    assert "Broken Services" in text.stdout and "By namespace" in text.stdout
    assert "svcdoctor diagnose svc/" in text.stdout
    doc = json.loads(run("--from", str(dump), "-o", "json").stdout)
    assert doc["schema"] == "svcdoctor.scan/v1" and doc["complete"] is True
    assert doc["summary"]["services"] == len(doc["services"]) >= 40
    crit = sum(1 for s in doc["services"] for f in s["findings"] if f["severity"] == "critical")
    assert doc["summary"]["critical"] == crit > 0
    junit = run("--from", str(dump), "-o", "junit")
    suite = ET.fromstring(junit.stdout).find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == doc["summary"]["services"] == int(suite.get("tests"))
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(failing) == int(suite.get("failures")) == doc["summary"]["brokenServices"]
    assert {c.get("classname").split(".", 1)[1] for c in cases} == {s["target"].split("/")[0] for s in doc["services"]}
    md = run("--from", str(dump), "-o", "markdown")
    assert md.stdout.startswith("# svcdoctor scan") and "| Severity | Service | Root cause |" in md.stdout
    assert run("--from", str(dump), "--fail-on", "none").returncode == 0
    only_warn = run("--from", str(dump), "--fail-on", "critical", "-l", "app=nothing")
    assert only_warn.returncode == 0 and "0 Services" in only_warn.stdout


def test_cli_bad_input_is_one_line(tmp_path, crowded):
    dump = crowded
    for args, message in [
        (["--from", str(dump), "-n", "nope"], "no Service in namespace 'nope'"),
        (["--from", str(dump), "--ignore", str(tmp_path / "missing.yaml")], "cannot read it"),
        (["--from", str(dump), "--baseline", str(dump)], "not a scan report"),
        (["--from", str(dump), "-l", "a b"], "label selector"),
        (["--from", str(tmp_path / "none.json")], "no such file"),
        (["-n", "x", "-A"], "not allowed with argument"),
        (["--from", str(dump), "--probe"], "--probe applies to live clusters only"),
    ]:
        proc = run(*args)
        assert proc.returncode in (3, 4), (args, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert message in proc.stderr, (args, proc.stderr)


def test_interrupted_scan_keeps_what_was_finished(tmp_path, crowded):
    dump = crowded

    def stop_after_three(done, total, current):
        if done == 3:
            raise KeyboardInterrupt
    result = scan.offline(dump, Scope(), progress=stop_after_three)
    assert result.interrupted and len(result.reports) == 3
    assert len(result.not_diagnosed) == result.total - 3
    a = outcome.assess(result)
    assert a.exit_code() == 130 and a.to_dict()["complete"] is False


def test_ctrl_c_on_the_cli_stops_cleanly(tmp_path):
    """A real SIGINT to a scan of 3,000 Services: exit 130, one line on stderr, the part
    that was finished on stdout as valid JSON."""
    items = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {}}]
    for i in range(3000):
        ns = f"team-{i % 30}"
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}", "namespace": ns},
                      "spec": {"selector": {"app": f"app-{i}"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    dump = as_kubectl_list(items, tmp_path / "big.json")
    # stderr on a terminal, so the progress bar shows when scanning has begun
    master, slave = pty.openpty()
    proc = subprocess.Popen([cli(), "scan", "--from", str(dump), "-o", "json"], stdout=subprocess.PIPE,
                            stderr=slave, text=True, env={**os.environ, "NO_COLOR": "1"})
    os.close(slave)
    seen, deadline = b"", time.monotonic() + 60
    while b"scanning" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            seen += os.read(master, 4096)
    assert b"scanning" in seen, seen
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    err = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    text = err.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "interrupted: " in text
    doc = json.loads(out)  # whole, with what was finished
    assert doc["interrupted"] is True and doc["complete"] is False
    assert 0 < len(doc["services"]) < 3000
    assert len(doc["services"]) + len(doc["notDiagnosed"]) == 3000


def test_a_dump_missing_a_kind_is_could_not_verify_never_missing(tmp_path, crowded):
    """kubectl output without pods (someone ran `kubectl get svc,endpointslices -A`): no
    Service is said to match no pods; each says it could not verify that."""
    doc = json.loads(crowded.read_text())
    doc["items"] = [i for i in doc["items"] if i["kind"] in ("Service", "EndpointSlice", "Node")]
    dump = as_kubectl_list(doc["items"], tmp_path / "no-pods.json")
    result = scan.offline(dump, Scope())
    assert len(result.reports) >= 100
    for report in result.reports:
        assert not [f for f in report.findings if f.id in ("selector-matches-no-pods", "no-ready-endpoints")]
        if any(i["kind"] == "Service" and i["spec"].get("selector") and
               f"{i['metadata']['namespace']}/{i['metadata']['name']}" == report.target for i in doc["items"]):
            assert any("Pod" in f.explanation or "pods" in f.explanation for f in report.could_not_verify), report.target
