"""Tier 1: every recording in svcdoctor/recordings/ replays to the findings its scenario expects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from svcdoctor.diagnose import diagnose
from svcdoctor.findings import Severity
from svcdoctor.sources.open import evidence_from_path
from svcdoctor.wording import Playbooks, placeholders

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = sorted((ROOT / "svcdoctor" / "recordings").glob("*.yaml"))
FINDINGS_MD = ROOT.parent / "shared" / "findings.md"


def replay(path: Path):
    return diagnose(evidence_from_path(path, None, None))


def expected(path: Path) -> list[str]:
    return yaml.safe_load(path.read_text())["expect"]["findings"]


def test_there_are_recordings():
    assert len(RECORDINGS) >= 18


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_recording_replays_to_expected_findings(path):
    report = replay(path)
    assert sorted(f.id for f in report.findings) == sorted(expected(path))
    translation = yaml.safe_load(path.read_text())["expect"].get("translation")
    if translation:  # the finding that carries the translation (lb_errors.yaml, metallb_causes.yaml)
        (explained,) = [f for f in report.findings
                        if translation in (f.facts.get("translation"), f.facts.get("cause_id"))]
        assert explained.id in expected(path)
    worst = min((f.severity.rank for f in report.findings), default=None)
    assert report.exit_code == {0: 2, 1: 1}.get(worst, 0)


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_report_words_are_complete(path):
    """Titles are fully filled; every finding explains itself and says how to fix it."""
    for f in replay(path).findings:
        assert f.title and not re.search(r"\{[a-z_]+\}", f.title), f.title
        assert f.explanation and f.why and f.fix, f.id
        assert f.evidence, f"{f.id} cites no evidence"
        for step in f.fix:
            assert not re.search(r"\{[a-z_]+\}", step.command), step.command
            # every patch a user would paste must be valid JSON
            for payload in re.findall(r" -p '([^']*)'", step.command):
                json.loads(payload)


def test_recordings_are_api_shaped():
    """Objects carry what the API server returns: apiVersion, kind, metadata with uid.
    Discovery's groups (GET /apis) are no objects: name, versions and preferredVersion as
    the server lists them, named in metadata too."""
    for path in RECORDINGS:
        doc = yaml.safe_load(path.read_text())
        assert doc["apiVersion"] == "svcdoctor/v1" and doc["kind"] == "Recording"
        for obj in doc["items"]:
            assert obj["apiVersion"] and obj["kind"], path
            if obj["kind"] == "APIGroup":
                assert obj["metadata"] == {"name": obj["name"]} and obj["versions"], path
                assert set(obj) <= {"apiVersion", "kind", "metadata", "name", "versions", "preferredVersion"}
                continue
            assert obj["metadata"].get("uid") and obj["metadata"].get("creationTimestamp"), path
            assert "managedFields" not in obj["metadata"]


def test_consequences_follow_their_cause():
    report = replay(ROOT / "svcdoctor" / "recordings" / "node-notready.yaml")
    ids = [f.id for f in report.findings]
    assert ids == ["endpoints-on-notready-node", "no-ready-endpoints"]
    assert report.findings[1].caused_by == "endpoints-on-notready-node"
    other = replay(ROOT / "svcdoctor" / "recordings" / "pods-in-other-namespace.yaml")
    assert [f.id for f in other.findings] == ["selector-pods-in-other-namespace",
                                             "selector-matches-no-pods"]
    assert other.findings[1].caused_by == "selector-pods-in-other-namespace"


def test_every_lb_error_translation_has_a_recording():
    from svcdoctor.plugins.lb_provisioning import translations

    recorded = {yaml.safe_load(p.read_text())["expect"].get("translation") for p in RECORDINGS}
    assert {t["id"] for t in translations()} | {"unknown"} <= recorded


def test_every_metallb_cause_has_a_recording():
    from svcdoctor.plugins.metallb import causes

    recorded = {yaml.safe_load(p.read_text())["expect"].get("translation") for p in RECORDINGS}
    # no-pool-for-family needs a dual-stack Service, which the single-stack test control
    # plane cannot create; its entry is matched in test_plugins instead.
    assert set(causes()) - {"no-pool-for-family"} <= recorded


def test_healthy_recordings_raise_no_warning():
    healthy = [p for p in RECORDINGS if not expected(p)]
    assert len(healthy) >= 4
    for path in healthy:
        report = replay(path)
        assert not [f for f in report.findings if f.severity != Severity.INFO]
        assert report.verdict.startswith("OK")


# --- the public contract: finding IDs, playbooks, recordings ---------------------------

def _contract_ids() -> set[str]:
    if not FINDINGS_MD.exists():
        pytest.skip("../shared/findings.md is not beside this checkout")
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", FINDINGS_MD.read_text(), re.M))


def test_every_emitted_id_is_in_the_contract_and_has_a_playbook():
    from svcdoctor import registry

    ids = registry.default().emitted_ids()
    assert ids <= _contract_ids()
    books = Playbooks.load().books
    assert ids <= set(books)


def test_every_emitted_id_fires_on_some_recording():
    from svcdoctor import registry

    fired = {i for p in RECORDINGS for i in expected(p)}
    assert registry.default().emitted_ids() - {"could-not-verify"} <= fired


def test_every_playbook_placeholder_is_a_fact_some_check_provides():
    """A typo in a placeholder would silently drop a sentence; catch it here."""
    provided = {"namespace", "service", "what", "reason"}
    for path in RECORDINGS:
        report = replay(path)
        for f in report.findings + report.could_not_verify:
            provided |= set(f.facts)
    for book_id, book in Playbooks.load().books.items():
        assert placeholders(book) <= provided, (book_id, placeholders(book) - provided)


# Whose documentation a link is, and how a finding shows it is about that implementation.
VENDORS = {
    "metallb.io": lambda f: f.facts.get("metallb") == "yes",
    "cloud.google.com": lambda f: f.facts.get("provider") == "GCP",
    "docs.aws.amazon.com": lambda f: f.facts.get("provider") == "AWS",
    "aws-load-balancer-controller": lambda f: f.facts.get("provider") == "AWS"
    or f.facts.get("lb_class") == "service.k8s.aws/nlb",
    "learn.microsoft.com": lambda f: f.facts.get("provider") == "Azure",
    "k3s.io": lambda f: f.id == "lb-host-port-conflict",
}
# lb-pending-no-controller names implementations one could install: none is in use yet.
INSTALL_ADVICE = {"lb-pending-no-controller"}


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_links_belong_to_the_implementation_in_question(path):
    for f in replay(path).findings:
        if f.id in INSTALL_ADVICE:
            continue
        for link in f.links:
            for vendor, about in VENDORS.items():
                if vendor in link:
                    assert about(f), f"{path.stem}: {f.id} links {link} but is not about {vendor}"


def test_gcp_and_metallb_static_ip_findings_link_their_own_docs():
    """The same finding ID, two implementations: each report links only its own."""
    (gcp,) = replay(ROOT / "svcdoctor" / "recordings" / "lb-failed-gcp-ip-not-reserved.yaml").findings
    assert gcp.id == "lb-requested-ip-not-allowed"
    assert any("cloud.google.com" in link for link in gcp.links)
    assert not any("metallb" in link for link in gcp.links + [s.command for s in gcp.fix])
    (metallb,) = replay(ROOT / "svcdoctor" / "recordings" / "metallb-requested-ip-not-allowed.yaml").findings
    assert any("metallb.io" in link for link in metallb.links)
    assert not any("google" in link for link in metallb.links)
