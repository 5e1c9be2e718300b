"""The Slack bot's access file and rate limit: default deny, one-line errors."""

from __future__ import annotations

import pytest

from svcdoctor.errors import UsageError
from svcdoctor.slack.access import Denied, RateLimit, load
from svcdoctor.slack.commands import Request, parse


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
