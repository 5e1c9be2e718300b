"""The Slack bot's access file and rate limit: default deny, one-line errors."""

from __future__ import annotations

import pytest

from svcdoctor.errors import UsageError
from svcdoctor.slack.access import Denied, RateLimit, load
from svcdoctor.slack.commands import Request, ScanRequest, parse


@pytest.mark.parametrize("text, needle", [
    ("", "expected `channels:`"),
    ("channels: []\n", "expected `channels:`"),
    ("channels: {C1: {contexts: [prod]}}\n", "needs contexts and namespaces"),
    ("channels: {C1: {contexts: prod, namespaces: [a]}}\n", "channels.C1.contexts is a string"),
    ("channels: {C1: {contexts: [p], namespaces: [a]}}\nlimits: {concurrent: 0}\n", "limits must be positive"),
    ("channels: [\n", "not valid YAML"),
])
def test_bad_access_files_are_one_line(tmp_path, text, needle):
    path = tmp_path / "access.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=needle) as err:
        load(path)
    assert "\n" not in str(err.value)


def test_defaults_and_decisions(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("channels:\n  C1: {contexts: [prod, staging], namespaces: [shop]}\n"
                    "  C2: {contexts: [prod], namespaces: ['*']}\n")
    policy = load(path)
    assert policy.decide(parse("diagnose svc/web"), "C1", "U1") == Request("web", "shop", "prod")
    assert policy.decide(parse("diagnose svc/web -n anything"), "C2", "U1") == Request("web", "anything", "prod")
    with pytest.raises(Denied, match="say which namespace"):
        policy.decide(parse("diagnose svc/web"), "C2", "U1")
    with pytest.raises(Denied, match="not enabled for this channel"):
        policy.decide(parse("diagnose svc/web -n shop"), "C3", "U1")
    with pytest.raises(Denied, match="context 'staging'"):
        policy.decide(parse("diagnose svc/web -n x --context staging"), "C2", "U1")


def test_rate_limit_window():
    now = [100.0]
    rate = RateLimit(2, 60, clock=lambda: now[0])
    assert rate.allow("U1") and rate.allow("U1") and not rate.allow("U1") and rate.allow("U2")
    now[0] += 60
    assert rate.allow("U1")


# --- scan: parsed as strictly, decided by the same policy --------------------------------------

@pytest.mark.parametrize("text, needle", [
    ("scan svc/web -n shop", "scan takes a namespace, not a Service"),
    ("scan -A -n shop", "-A or -n NAMESPACE, not both"),
    ("scan -n shop --summarize", "unknown option '--summarize' for scan"),
    ("scan -n shop --probe", "unknown option '--probe' for scan"),
    ("diagnose svc/web -n shop -A", "unknown option '-A' for diagnose"),
])
def test_bad_scans_are_one_line(text, needle):
    with pytest.raises(UsageError, match=needle) as err:
        parse(text)
    assert "\n" not in str(err.value) and "/svcdoctor scan -n NAMESPACE" in str(err.value)


def test_scan_decisions(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("channels:\n  C1: {contexts: [prod, staging], namespaces: [shop]}\n"
                    "  C2: {contexts: [prod], namespaces: ['*']}\n"
                    "  C3: {contexts: [prod], namespaces: [shop, checkout]}\n")
    policy = load(path)
    assert parse("<@U0BOT> scan -n shop --context staging") == ScanRequest("shop", "staging")
    assert policy.decide(parse("scan"), "C1", "U1") == ScanRequest("shop", "prod")
    assert policy.decide(parse("scan -n checkout"), "C3", "U1") == ScanRequest("checkout", "prod")
    assert policy.decide(parse("scan --all-namespaces"), "C2", "U1") == ScanRequest(None, "prod", True)
    with pytest.raises(Denied, match="may not diagnose namespace 'kube-system'"):
        policy.decide(parse("scan -n kube-system"), "C1", "U1")
    with pytest.raises(Denied, match=r"may not scan all namespaces \(`-A`\); scan one of shop, checkout"):
        policy.decide(parse("scan -A"), "C3", "U1")
    with pytest.raises(Denied, match="say which namespace"):
        policy.decide(parse("scan"), "C3", "U1")
    with pytest.raises(Denied, match="context 'staging'"):
        policy.decide(parse("scan -A --context staging"), "C2", "U1")
