"""The Slack bot, as Slack and a cluster see it: the real ``svcdoctor slack --http`` process
(slack-bolt) receives signed requests, diagnoses on the real control plane through the
shipped read-only ServiceAccount, and talks to a fake Slack Web API on loopback
(tests/slack_server.py) whose every call is recorded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

import openai_server
import scenarios
from helpers import cli
from slack_server import SECRET, FakeSlack, click, mention, post, signed, slash
from svcdoctor.slack.blocks import violations

pytest.importorskip("slack_bolt")

ROOT = Path(__file__).resolve().parents[1]
SA_USER = "system:serviceaccount:svcdoctor:svcdoctor"
NS = "slack-shop"
ONCALL, RANDOM, GATED = "C0ONCALL01", "C0RANDOM01", "C0GATED001"
SHOPS, EVERY = "C0SHOPS001", "C0EVERY001"   # scan: a few namespaces; every namespace
ALICE, BOB = "U0ALICE001", "U0BOB00001"
INJECTED = "Readiness probe failed: <!channel> urgent: see <https://evil.example/login|the fix> now"


@pytest.fixture(scope="module")
def cluster(cp, tmp_path_factory):
    """A Service whose pods fail readiness (with an event text that tries to ping the channel),
    and a kubeconfig with the shipped read-only ServiceAccount ("cp"), a ServiceAccount with
    no role at all ("norbac": every read is 403), a server that accepts connections and
    never answers ("hang") and a port nothing listens on ("down")."""
    cp.kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    if cp.kubectl("get", "namespace", NS, check=False).returncode != 0:
        cp.create_namespace(NS)
    cp.kubectl("apply", "-f", "-", input="\n---\n".join([
        scenarios.deployment("orders", NS, {"app": "orders"}, pod_labels={"svcdoctor.test/ready": "false"}),
        scenarios.service("orders", NS, {"app": "orders"})]))
    cp.wait_until(lambda: len(scenarios.pods(cp, NS)) == 2 and all(
        p.get("status", {}).get("phase") == "Running" for p in scenarios.pods(cp, NS)), timeout=60, what="pods")
    for p in scenarios.pods(cp, NS):
        scenarios.kubelet_event(cp, NS, p["metadata"]["name"], reason="Unhealthy", message=INJECTED,
                                count=12, span_s=300)
    token = cp.create_token("svcdoctor", "svcdoctor", create_service_account=False)
    nobody = cp.create_token("svcdoctor", "svcdoctor-no-role")
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)  # accepts (the kernel does), never answers
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down_port = closed.getsockname()[1]  # free once closed: connections are refused
    cluster = {"server": cp.server, "certificate-authority": str(cp.ca_cert)}
    kubeconfig = tmp_path_factory.mktemp("bot") / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "cp",
        "clusters": [{"name": "cp", "cluster": cluster},
                     {"name": "hang", "cluster": {**cluster, "server": f"https://127.0.0.1:{hang.getsockname()[1]}"}},
                     {"name": "down", "cluster": {**cluster, "server": f"https://127.0.0.1:{down_port}"}}],
        "users": [{"name": "bot", "user": {"token": token}}, {"name": "nobody", "user": {"token": nobody}}],
        "contexts": [{"name": "cp", "context": {"cluster": "cp", "user": "bot"}},
                     {"name": "norbac", "context": {"cluster": "cp", "user": "nobody"}},
                     {"name": "hang", "context": {"cluster": "hang", "user": "bot"}},
                     {"name": "down", "context": {"cluster": "down", "user": "bot"}}]}))
    yield kubeconfig
    hang.close()


class Bot:
    """``svcdoctor slack --http`` in a process of its own; its JSON log lines collected."""

    def __init__(self, tmp: Path, fake: FakeSlack, kubeconfig: Path, access: dict, env: dict | None = None) -> None:
        (tmp / "access.yaml").write_text(yaml.safe_dump(access))
        self.lines: list[dict] = []
        self.proc = subprocess.Popen(
            [cli(), "slack", "--http", "--host", "127.0.0.1", "--port", "0", "--access", str(tmp / "access.yaml"),
             "--kubeconfig", str(kubeconfig), "--slack-api-url", fake.api_url, "--no-probe",
             "--request-timeout", "30s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "SLACK_BOT_TOKEN": "xoxb-test-bot-token-000000", "SLACK_SIGNING_SECRET": SECRET,
                 "HOME": str(tmp), "XDG_CACHE_HOME": str(tmp / "cache"), "XDG_CONFIG_HOME": str(tmp / "config"),
                 **(env or {})})
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        started = self.wait(lambda line: line.get("event") == "started")
        self.url = f"http://127.0.0.1:{started['port']}"

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def wait(self, match, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [entry for entry in self.lines if match(entry)]
            if found:
                return found[0]
            if self.proc.poll() is not None:
                raise AssertionError(f"the bot exited: {''.join(self.stderr)}")
            time.sleep(0.1)
        raise AssertionError(f"no such log line within {timeout}s: {''.join(self.stderr)[-2000:]}")

    def send(self, body: str, ctype: str = "application/x-www-form-urlencoded",
             headers: dict | None = None) -> tuple[int, str]:
        return post(f"{self.url}/slack/events", body, headers if headers is not None else signed(body), ctype)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


ACCESS = {
    "channels": {ONCALL: {"contexts": ["cp", "hang"], "namespaces": [NS]},
                 GATED: {"contexts": ["cp"], "namespaces": [NS], "usergroups": ["S0ONCALL01"]},
                 SHOPS: {"contexts": ["cp", "norbac", "down"], "namespaces": ["shop", NS, "no-such-namespace"]},
                 EVERY: {"contexts": ["cp"], "namespaces": ["*"]}},
    "limits": {"per_user": 20, "per_seconds": 60, "concurrent": 2, "timeout": 20},
}


@pytest.fixture
def fake():
    with FakeSlack(usergroups={"S0ONCALL01": [ALICE]}) as f:
        yield f


@pytest.fixture
def bot(tmp_path, fake, cluster):
    b = Bot(tmp_path, fake, cluster, ACCESS)
    yield b
    b.stop()


def _texts(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _update(fake: FakeSlack, count: int = 1) -> dict:
    return fake.wait_for("chat.update", count)[count - 1]


# --- the answer ------------------------------------------------------------------------------

def test_slash_command_answers_in_a_thread_with_the_recording(bot, fake, cp, tmp_path):
    before = len(cp.audit_events(user=SA_USER))
    status, _ = bot.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE))
    assert status == 200  # acked
    (parent,) = fake.wait_for("chat.postMessage")
    assert parent["channel"] == ONCALL and "Diagnosing svc/orders" in parent["text"]
    update = _update(fake)
    parent_ts = update["ts"]
    blocks_ = update["blocks"]
    assert update["text"].startswith("CRITICAL")
    assert violations(blocks_) == [] and len(blocks_) <= 50
    assert blocks_[0]["type"] == "header" and blocks_[0]["text"]["text"] == update["text"]
    assert "`no-ready-endpoints`" in _texts(blocks_)
    assert any(b["type"] == "actions" and b["elements"][0]["action_id"] == "svcdoctor_recheck" for b in blocks_)
    assert "context cp · svcdoctor" in _texts(blocks_)
    # the recording, in the parent's thread, replays to the same findings
    (done,) = fake.wait_for("files.completeUploadExternal")
    assert done["channel_id"] == ONCALL and done["thread_ts"] == parent_ts
    (content,) = fake.files.values()
    rec = tmp_path / "rec.yaml"
    rec.write_bytes(content)
    replay = subprocess.run([cli(), "diagnose", "--from", str(rec), "-o", "json"], capture_output=True, text=True)
    replayed = sorted(f["id"] for f in json.loads(replay.stdout)["findings"] if f["id"] != "could-not-verify")
    assert replayed == ["no-ready-endpoints"]
    # one audit line, and the bot only read
    line = bot.wait(lambda entry: entry.get("target") == f"svc/orders -n {NS}")
    assert (line["user"], line["channel"], line["context"], line["outcome"]) == (ALICE, ONCALL, "cp", "critical")
    assert line["findings"] == ["no-ready-endpoints"] and line["duration_ms"] >= 0
    requests = cp.audit_events(user=SA_USER)[before:]
    assert 1 <= len(requests) <= 11 and {e["verb"] for e in requests} <= {"get", "list"}
    assert "xoxb-test-bot-token" not in "".join(bot.stderr)


def test_event_text_cannot_ping_or_link(bot, fake):
    bot.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE))
    text = _texts(_update(fake)["blocks"])
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example/login|the fix&gt;" in text


def test_mention_in_a_thread_answers_there_once(bot, fake):
    body = mention(f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE, event_id="Ev0MENTION1",
                   thread_ts="1764500000.000100")
    assert bot.send(body, "application/json")[0] == 200
    assert bot.send(body, "application/json", {**signed(body), "X-Slack-Retry-Num": "1",
                                                "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    (reply,) = fake.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "1764500000.000100"
    _update(fake)
    (done,) = fake.wait_for("files.completeUploadExternal")
    assert done["thread_ts"] == "1764500000.000100"  # the thread's root, not the bot's reply
    time.sleep(1)
    assert len(fake.of("chat.postMessage")) == 1  # Slack's retry was not answered twice


# --- refusals, before any API call ------------------------------------------------------------

@pytest.mark.parametrize("text, channel, user, needle", [
    ("help", ONCALL, ALICE, "Usage: `/svcdoctor diagnose"),
    ("", ONCALL, ALICE, "Usage: `/svcdoctor diagnose"),
    ("diagnose deploy/orders -n slack-shop", ONCALL, ALICE, "svcdoctor diagnoses Services"),
    ("diagnose svc/orders -n slack-shop --probe-timeout 1s", ONCALL, ALICE, "unknown option"),
    ("diagnose svc/orders -n slack-shop --context https://evil.example", ONCALL, ALICE, "may not diagnose context"),
    ("diagnose svc/orders -n slack-shop --context <https://evil.example>", ONCALL, ALICE, "only plain names"),
    (f"diagnose svc/orders -n {NS}", RANDOM, ALICE, "not enabled for this channel"),
    ("diagnose svc/orders -n kube-system", ONCALL, ALICE, "may not diagnose namespace 'kube-system'"),
    (f"diagnose svc/orders -n {NS} --context prod", ONCALL, ALICE, "may not diagnose context 'prod'"),
    (f"diagnose svc/orders -n {NS}", GATED, BOB, "not among the users allowed"),
    ("scan -n kube-system", SHOPS, ALICE, "may not diagnose namespace 'kube-system'"),
    ("scan -A", SHOPS, ALICE, "may not scan all namespaces (`-A`)"),
    ("scan -n shop", RANDOM, ALICE, "not enabled for this channel"),
    ("scan svc/web-api -n shop", SHOPS, ALICE, "scan takes a namespace, not a Service"),
])
def test_refusals_are_ephemeral_and_read_nothing(bot, fake, cp, text, channel, user, needle):
    before = len(cp.audit_events(user=SA_USER))
    assert bot.send(slash(fake, text, channel=channel, user=user))[0] == 200
    (answer,) = fake.wait_for("respond")
    assert answer["response_type"] == "ephemeral" and needle in answer["text"], answer
    time.sleep(0.5)
    assert fake.of("chat.postMessage") == [] and cp.audit_events(user=SA_USER)[before:] == []


def test_a_user_group_member_may(bot, fake):
    bot.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=GATED, user=ALICE))
    assert _update(fake)["text"].startswith("CRITICAL")
    assert fake.of("usergroups.users.list") == [{"usergroup": "S0ONCALL01"}]


@pytest.mark.parametrize("how", ["bad signature", "stale timestamp", "no signature"])
def test_unsigned_requests_are_401_and_run_nothing(bot, fake, how):
    body = slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE)
    headers = {"bad signature": signed(body, secret="not-the-secret"),
               "stale timestamp": signed(body, timestamp=int(time.time()) - 600),
               "no signature": {}}[how]
    status, _ = bot.send(body, headers=headers)
    assert status == 401
    time.sleep(0.5)
    assert [c["method"] for c in fake.calls] == ["auth.test"]


def test_rate_limit_per_user(tmp_path, fake, cluster):
    b = Bot(tmp_path, fake, cluster, {**ACCESS, "limits": {**ACCESS["limits"], "per_user": 1}})
    try:
        b.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE))
        _update(fake)
        b.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE))
        (answer,) = fake.wait_for("respond")
        assert "wait a moment" in answer["text"] and answer["response_type"] == "ephemeral"
        b.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=BOB))  # others may
        _update(fake, 2)
    finally:
        b.stop()


def test_timeout_and_busy(tmp_path, fake, cluster):
    b = Bot(tmp_path, fake, cluster, {**ACCESS, "limits": {"per_user": 20, "per_seconds": 60, "concurrent": 1,
                                                           "timeout": 3}})
    try:
        b.send(slash(fake, f"diagnose svc/orders -n {NS} --context hang", channel=ONCALL, user=ALICE))
        fake.wait_for("chat.postMessage")
        b.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=BOB))
        updates = fake.wait_for("chat.update", 2, timeout=30)
        texts = sorted(u["text"] for u in updates)
        assert any("busy: 1 diagnoses are running" in t for t in texts), texts
        assert any("timed out after 3s" in t for t in texts), texts
        assert b.wait(lambda e: e.get("outcome") == "timeout")["context"] == "hang"
    finally:
        b.stop()


# --- buttons ----------------------------------------------------------------------------------

def test_recheck_shows_what_cleared(bot, fake, cp):
    bot.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE))
    first = _update(fake)
    button = next(b for b in first["blocks"] if b["type"] == "actions")["elements"][0]
    # the fix: the pods become ready
    for p in scenarios.pods(cp, NS):
        cp.kubectl("-n", NS, "label", "pod", p["metadata"]["name"], "svcdoctor.test/ready=true", "--overwrite")
    cp.wait_until(lambda: all(scenarios.ready(p) for p in scenarios.pods(cp, NS)), timeout=60, what="ready")
    try:
        assert bot.send(click(fake, button["action_id"], button["value"], channel=ONCALL, user=BOB,
                              message_ts=first["ts"]))[0] == 200
        second = _update(fake, 2)
        assert second["ts"] == first["ts"] and second["text"].startswith("OK")
        assert "cleared: `no-ready-endpoints`" in _texts(second["blocks"])
    finally:
        for p in scenarios.pods(cp, NS):
            cp.kubectl("-n", NS, "label", "pod", p["metadata"]["name"], "svcdoctor.test/ready=false", "--overwrite")
        cp.wait_until(lambda: not any(scenarios.ready(p) for p in scenarios.pods(cp, NS)), timeout=60, what="unready")


def test_a_forged_button_is_refused(bot, fake):
    value = json.dumps({"name": "orders", "namespace": "kube-system", "context": "cp", "ids": []})
    bot.send(click(fake, "svcdoctor_recheck", value, channel=ONCALL, user=ALICE, message_ts="1.2"))
    (answer,) = fake.wait_for("respond")
    assert "may not diagnose namespace 'kube-system'" in answer["text"]
    assert fake.of("chat.update") == []


def test_summarize_button_with_an_llm(tmp_path, fake, cluster):
    with openai_server.Server() as llm:
        b = Bot(tmp_path, fake, cluster, ACCESS, env={"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-test",
                                                       "SVCDOCTOR_LLM_MODEL": "test-model"})
        try:
            b.send(slash(fake, f"diagnose svc/orders -n {NS}", channel=ONCALL, user=ALICE))
            first = _update(fake)
            summarize = next(b_ for b_ in first["blocks"] if b_["type"] == "actions")["elements"][1]
            assert summarize["action_id"] == "svcdoctor_summarize" and llm.requests == []
            b.send(click(fake, summarize["action_id"], summarize["value"], channel=ONCALL, user=ALICE,
                         message_ts=first["ts"]))
            second = _update(fake, 2)
            assert "*Summary* (AI, test-model; may be wrong)" in _texts(second["blocks"])
            assert len(fake.of("files.completeUploadExternal")) == 1  # the first answer's recording only
            assert len(llm.requests) == 1
            user = json.loads(llm.requests[0]["raw"])["messages"][1]["content"]
            assert "\\u003c!channel\\u003e urgent" in user  # the event text went as data
        finally:
            b.stop()


# --- scan: every Service of a namespace, through svcdoctor.scan -----------------------------------

@pytest.fixture(scope="module")
def shop(cp):
    """Namespace shop with the selector-typo scenario: web-api selects no pod."""
    scenarios.run(cp, scenarios.BY_NAME["selector-typo"])
    return "shop"


def test_scan_answers_with_a_summary_and_the_json(bot, fake, cp, shop):
    before = len(cp.audit_events(user=SA_USER))
    assert bot.send(slash(fake, "scan -n shop", channel=SHOPS, user=ALICE))[0] == 200
    (parent,) = fake.wait_for("chat.postMessage")
    assert parent["channel"] == SHOPS and parent["text"].startswith("Scanning namespace shop (context cp)")
    update = _update(fake)
    blocks_, text = update["blocks"], _texts(update["blocks"])
    assert violations(blocks_) == [] and update["ts"] == fake.of("chat.update")[0]["ts"]
    assert update["text"].startswith("svcdoctor scan of namespace shop: ")
    assert blocks_[0]["type"] == "header" and "broken in namespace shop" in blocks_[0]["text"]["text"]
    assert "*shop/web-api* `selector-matches-no-pods`" in text           # ranked, with its root cause
    assert "```svcdoctor diagnose svc/web-api -n shop```" in text
    assert "could not verify" in text and "context cp · svcdoctor" in text
    # the full JSON, uploaded in the parent's thread through the three-step external upload
    (done,) = fake.wait_for("files.completeUploadExternal")
    (upload,) = fake.uploads
    assert (done["channel_id"], done["thread_ts"]) == (SHOPS, update["ts"])
    assert upload["filename"] == upload["title"] == "svcdoctor-scan-shop.json"
    assert upload["length"] == len(upload["content"]) and "--baseline svcdoctor-scan-shop.json" in upload["initial_comment"]
    doc = json.loads(upload["content"])
    assert doc["schema"] == "svcdoctor.scan/v1" and doc["scope"] == "namespace shop" and doc["complete"]
    services = {s["target"]: s for s in doc["services"]}
    assert "shop/web-api" in services and all(t.startswith("shop/") for t in services)
    assert "selector-matches-no-pods" in [f["id"] for f in services["shop/web-api"]["findings"]]
    assert doc["summary"]["brokenServices"] >= 1 and doc["summary"]["critical"] >= 1
    # one audit line; the scan only read, as the shipped read-only ServiceAccount
    line = bot.wait(lambda entry: entry.get("command") == "scan")
    assert (line["user"], line["channel"], line["target"], line["context"], line["outcome"]) == \
        (ALICE, SHOPS, "namespace shop", "cp", "critical")
    assert "shop/web-api" in line["broken"] and "selector-matches-no-pods" in line["findings"]
    requests = cp.audit_events(user=SA_USER)[before:]
    assert requests and {e["verb"] for e in requests} <= {"get", "list"}
    assert "xoxb-test-bot-token" not in "".join(bot.stderr) + upload["content"].decode()


def test_scan_all_namespaces_by_mention_in_a_thread(bot, fake, shop):
    body = mention("scan -A", channel=EVERY, user=BOB, event_id="Ev0SCANALL1", thread_ts="1764500000.000300")
    assert bot.send(body, "application/json")[0] == 200
    (reply,) = fake.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "1764500000.000300" and reply["text"].startswith("Scanning all namespaces")
    text = _texts(_update(fake)["blocks"])
    fake.wait_for("files.completeUploadExternal")
    (upload,) = fake.uploads
    assert upload["thread_ts"] == "1764500000.000300" and upload["filename"] == "svcdoctor-scan-all-namespaces.json"
    doc = json.loads(upload["content"])
    assert doc["scope"] == "all namespaces" and {"shop", NS} <= {n["namespace"] for n in doc["namespaces"]}
    # by namespace, the most troubled first (the shared cluster holds dozens by now)
    ranked = sorted(doc["namespaces"], key=lambda n: (-n["critical"], -n["warning"], n["namespace"]))
    assert "*By namespace*" in text and f"`{ranked[0]['namespace']}`" in text
    if len(ranked) > 15:
        assert f"and {len(ranked) - 15} more namespaces" in text
    else:
        assert "`shop`" in text and f"`{NS}`" in text


@pytest.mark.parametrize("text, needle", [
    ("scan -n no-such-namespace", "svcdoctor could not scan namespace no-such-namespace: namespace "
                                  "'no-such-namespace' not found"),
    ("scan -n shop --context norbac", "svcdoctor could not scan namespace shop: not allowed to list Services "
                                      "in namespace shop"),
    ("scan -n shop --context down", "svcdoctor could not scan namespace shop: cannot reach the API server at "
                                    "https://127.0.0.1:"),
])
def test_scan_errors_are_one_line_in_the_thread(bot, fake, shop, text, needle):
    bot.send(slash(fake, text, channel=SHOPS, user=ALICE))
    update = _update(fake)
    assert update["text"].startswith(needle) and "\n" not in update["text"], update["text"]
    assert update["blocks"][0]["text"]["text"].startswith(":warning: " + needle)
    line = bot.wait(lambda entry: entry.get("command") == "scan")
    assert line["outcome"] == "error" and line["counts"] == {}
    time.sleep(0.5)
    assert fake.of("files.getUploadURLExternal") == [] and fake.uploads == []


# --- deploying it ------------------------------------------------------------------------------

def test_in_cluster_manifests_are_accepted_by_the_apiserver(cp):
    for f in ("deploy/rbac.yaml", "deploy/slack/kubernetes.yaml"):
        proc = cp.kubectl("apply", "--dry-run=server", "-f", str(ROOT / f), check=False)
        assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "slack" / "kubernetes.yaml").read_text()))
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "svcdoctor" and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert all("valueFrom" in e for e in container["env"] if e["name"].startswith("SLACK_"))  # from a Secret


def test_slack_app_manifest():
    manifest = yaml.safe_load((ROOT / "deploy" / "slack" / "slack-app-manifest.yaml").read_text())
    assert manifest["features"]["slash_commands"][0]["command"] == "/svcdoctor"
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"app_mentions:read", "chat:write", "commands",
                                                               "files:write"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_mention"]
