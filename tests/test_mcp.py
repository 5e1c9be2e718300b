"""``svcdoctor mcp``: the official SDK's own clients against the server — in memory over
every recording, as a stdio subprocess started the way an agent starts it, and over
Streamable HTTP — the last two against the real control plane."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from helpers import cli
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.mcp_server import shape
from svcdoctor.mcp_server.server import build
from svcdoctor.mcp_server.tools import Tools
from svcdoctor.report import Report
from svcdoctor.slack.access import Channel, Policy
from svcdoctor.wording import Playbooks

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = sorted((ROOT / "svcdoctor" / "recordings").glob("*.yaml"))
TOOLS = {"diagnose_service", "diagnose_ingress", "diagnose_route", "diagnose_url", "scan",
         "explain_finding", "list_finding_ids"}


def call(server, tool: str, args: dict):
    async def go():
        async with Client(server) as c:
            return await c.call_tool(tool, args)
    return anyio.run(go)


def ids(result) -> list[str]:
    assert not result.is_error, result.content[0].text
    return sorted(f["id"] for f in result.structured_content["findings"])


def test_tools_are_listed_read_only_with_schemas():
    async def go():
        async with Client(build(Tools())) as c:
            return (await c.list_tools()).tools
    tools = {t.name: t for t in anyio.run(go)}
    assert set(tools) == TOOLS
    for t in tools.values():
        a = t.annotations
        assert a.read_only_hint is True and a.destructive_hint is False and a.idempotent_hint is True, t.name
        assert t.description and t.output_schema, t.name
    svc = tools["diagnose_service"]
    assert svc.input_schema["required"] == ["namespace", "name"]
    assert set(svc.input_schema["properties"]) == {"namespace", "name", "context", "probe"}
    assert svc.input_schema["properties"]["probe"]["default"] is False
    out = svc.output_schema
    assert {"target", "verdict", "exitCode", "findings", "couldNotVerify", "backends"} <= set(out["properties"])
    assert set(tools["scan"].input_schema["properties"]) == {"namespace", "all_namespaces", "fail_on"}
    assert "HTTPRoute" in json.dumps(tools["diagnose_route"].input_schema)
    # nothing generic: no tool takes a path, a kind of object to list, or a command
    for t in tools.values():
        assert not {"path", "resource", "command", "manifest"} & set(t.input_schema.get("properties", {}))


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_diagnose_service_over_every_recording(path):
    doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    target = doc["metadata"]["target"]
    result = call(build(Tools(source=str(path))), "diagnose_service",
                  {"namespace": target["namespace"], "name": target["name"]})
    assert ids(result) == sorted(doc["expect"]["findings"])
    assert shape.size(result.structured_content) <= shape.MAX_BYTES
    assert result.structured_content["target"] == f"{target['namespace']}/{target['name']}"


def test_l7_tools_over_recordings():
    rec = ROOT / "svcdoctor" / "recordings"
    r = call(build(Tools(source=str(rec / "l7-ingress-wrong-port.yaml"))), "diagnose_ingress",
             {"namespace": "l7-store", "name": "cart"})
    assert ids(r) == ["ingress-backend-port-not-found"]
    r = call(build(Tools(source=str(rec / "l7-route-ref-not-permitted.yaml"))), "diagnose_route",
             {"namespace": "l7-checkout", "name": "pay"})
    assert "route-ref-not-permitted" in ids(r)
    assert [b["target"] for b in r.structured_content["backends"]] == ["l7-billing/payments"]


def test_explain_every_finding_id_and_its_resource():
    books = Playbooks.load().books
    server = build(Tools())

    async def go():
        async with Client(server) as c:
            listed = await c.call_tool("list_finding_ids", {})
            texts = {}
            for fid in books:
                r = await c.call_tool("explain_finding", {"id": fid})
                assert not r.is_error, fid
                res = await c.read_resource(f"svcdoctor://findings/{fid}")
                assert res.contents[0].text == r.structured_content["result"], fid
                texts[fid] = r.structured_content["result"]
            resources = (await c.list_resources()).resources
            templates = (await c.list_resource_templates()).resource_templates
            prompt = await c.get_prompt("diagnose-service", {"namespace": "shop", "name": "web"})
            return listed, texts, resources, templates, prompt
    listed, texts, resources, templates, prompt = anyio.run(go)
    assert [f["id"] for f in listed.structured_content["result"]] == sorted(books)
    for fid, text in texts.items():
        assert text.startswith(f"# {fid}\n") and "## Fix" in text or not books[fid].get("fix")
    assert {r.uri for r in resources} == {f"svcdoctor://findings/{f}" for f in books}
    assert all(r.mime_type == "text/markdown" for r in resources)
    assert templates[0].uri_template == "svcdoctor://findings/{id}"
    said = prompt.messages[0].content.text
    assert "diagnose_service" in said and "namespace='shop'" in said and "couldNotVerify" in said


def test_errors_are_tool_errors_of_one_line(tmp_path):
    server = build(Tools(source=str(crowded_namespace_dump(tmp_path / "big.json", pods=80))))
    for tool, args, words in [
        ("diagnose_service", {"namespace": "bigg", "name": "app-1"}, "namespace 'bigg' not found"),
        ("diagnose_service", {"namespace": "big", "name": "app-100"}, "Service 'app-100' not found"),
        ("diagnose_service", {"namespace": "big", "name": "Web_Api"}, "not a valid Service name"),
        ("diagnose_service", {"namespace": "Big!", "name": "web"}, "is not a valid namespace name"),
        ("explain_finding", {"id": "selector-matches-no-pod"}, "did you mean 'selector-matches-no-pods'"),
        ("diagnose_url", {"url": "ftp://x"}, "not an http:// or https:// URL"),
        ("scan", {}, "give a namespace, or all_namespaces"),
        ("diagnose_service", {"namespace": "big", "name": "app-1", "context": "prod"}, "leave out context"),
    ]:
        r = call(server, tool, args)
        assert r.is_error and r.structured_content is None, (tool, args)
        text = r.content[0].text
        assert words in text and "\n" not in text and "Traceback" not in text, text


def test_the_allow_list_refuses_before_reading():
    """Contexts and namespaces outside the server's entry are refused; the kubeconfig named
    does not even exist, so a read would have failed differently."""
    policy = Policy({"mcp": Channel(("prod",), ("shop", "checkout"))})
    server = build(Tools(kubeconfig="/nonexistent/kubeconfig", policy=policy))
    for tool, args, words in [
        ("diagnose_service", {"namespace": "shop", "name": "web", "context": "staging"}, "may not diagnose context 'staging'"),
        ("diagnose_service", {"namespace": "kube-system", "name": "kube-dns"}, "may not diagnose namespace 'kube-system'"),
        ("scan", {"all_namespaces": True}, "may not scan all namespaces"),
        ("diagnose_url", {"url": "https://shop.example/"}, "may not scan all namespaces"),
    ]:
        r = call(server, tool, args)
        assert r.is_error and words in r.content[0].text.replace("this server", "this channel"), (args, r.content[0].text)
    allowed = call(server, "diagnose_service", {"namespace": "shop", "name": "web"})
    assert allowed.is_error and "/nonexistent/kubeconfig" in allowed.content[0].text  # got past the allow-list


def crowded_namespace_dump(path: Path, pods: int = 1000) -> Path:
    """One namespace of 125 Deployments × 8 pods with 125 Services, one in five broken,
    and a noisy event per pod."""
    items = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{n}"},
              "status": {"addresses": [{"type": "InternalIP", "address": f"127.0.1.{n + 1}"}],
                         "conditions": [{"type": "Ready", "status": "True"}]}} for n in range(20)]
    for d in range(pods // 8):
        app = f"app-{d}"
        for p in range(8):
            pod = f"{app}-7d4b9-{p:03d}"
            items.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": "big",
                          "labels": {"app": app, "pod-template-hash": "7d4b9"}},
                          "spec": {"nodeName": f"node-{p}", "containers": [{"name": "web", "image": "nginx:1.27",
                                   "ports": [{"name": "http", "containerPort": 8080}]}]},
                          "status": {"phase": "Running", "podIP": f"10.1.{d}.{p}",
                                     "conditions": [{"type": "Ready", "status": "False" if d % 5 == 1 else "True"}],
                                     "containerStatuses": [{"name": "web", "ready": d % 5 != 1, "restartCount": 3,
                                                            "state": {"running": {}}}]}})
            items.append({"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{pod}.1", "namespace": "big"},
                          "involvedObject": {"kind": "Pod", "name": pod, "namespace": "big"}, "type": "Warning",
                          "reason": "Unhealthy", "count": 40, "message": "Readiness probe failed: HTTP probe failed "
                          "with statuscode: 503 " + "x" * 400})
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": "big"},
                      "spec": {"selector": {"app": app if d % 5 else app + "-v2"},
                               "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def test_answers_stay_small_on_a_crowded_namespace(tmp_path):
    dump = crowded_namespace_dump(tmp_path / "big.json")
    server = build(Tools(source=str(dump)))
    broken = call(server, "diagnose_service", {"namespace": "big", "name": "app-0"})
    assert "selector-matches-no-pods" in ids(broken)
    unready = call(server, "diagnose_service", {"namespace": "big", "name": "app-1"})
    assert ids(unready) and shape.size(unready.structured_content) <= shape.MAX_BYTES
    scan = call(server, "scan", {"namespace": "big"})
    doc = scan.structured_content
    assert doc["summary"]["services"] == 125 and doc["summary"]["brokenServices"] >= 50
    assert len(doc["broken"]) == shape.MAX_BROKEN and doc["omitted"] == doc["summary"]["brokenServices"] - shape.MAX_BROKEN
    assert shape.size(doc) <= 16_000, shape.size(doc)
    assert doc["broken"][0]["command"].startswith("svcdoctor diagnose svc/")


def test_bounded_cuts_detail_before_findings():
    big = [Finding(f"f-{i}", Severity.WARNING, f"subject {i}", title="t" * 200, explanation="e" * 2000,
                   evidence=[Ref("event", f"Pod a/p{j}", "m" * 1000) for j in range(20)]) for i in range(30)]
    report = Report("a/b", "src", {}, big, "WARNING: …", [], "")
    out = shape.report(report)
    assert shape.size(out) <= shape.MAX_BYTES
    assert len(out["findings"]) + out["omitted"] == 30 and out["findings"][0]["evidence"]
    assert all(len(e["text"]) <= shape.MAX_LINE for f in out["findings"] for e in f["evidence"])


# --- the real control plane: stdio as an agent starts it, and Streamable HTTP -----------------

def agent_env(cp) -> dict[str, str]:
    """Only what an agent's config passes (command, args, env): KUBECONFIG and PATH."""
    return {"KUBECONFIG": str(cp.kubeconfig), "PATH": os.environ.get("PATH", "")}


def test_stdio_server_started_like_an_agent_does(cp, ran_selector_typo):
    params = StdioServerParameters(command=cli(), args=["mcp"], env=agent_env(cp))

    async def go():
        async with Client(params) as c:
            tools = {t.name for t in (await c.list_tools()).tools}
            diag = await c.call_tool("diagnose_service", {"namespace": "shop", "name": "web-api"})
            scanned = await c.call_tool("scan", {"namespace": "shop"})
            missing = await c.call_tool("diagnose_service", {"namespace": "shop", "name": "web-apu"})
            return tools, diag, scanned, missing
    tools, diag, scanned, missing = anyio.run(go)
    assert tools == TOOLS
    assert ids(diag) == ["selector-matches-no-pods"]
    assert diag.structured_content["source"].startswith(f"cluster {cp.server}")
    assert "shop/web-api" in [b["service"] for b in scanned.structured_content["broken"]]
    assert missing.is_error and "did you mean 'web-api'" in missing.content[0].text


def test_stdout_holds_protocol_messages_only(cp, ran_selector_typo):
    """Raw JSON-RPC over the pipes: every stdout line is a JSON-RPC message; the call log
    (and nothing else of svcdoctor's) goes to stderr."""
    proc = subprocess.Popen([cli(), "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=agent_env(cp))
    msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "test", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "diagnose_service", "arguments": {"namespace": "shop", "name": "web-api"}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "diagnose_service", "arguments": {"namespace": "nope", "name": "x"}}}]
    import select

    lines: list[str] = []
    try:
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in msgs))
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        # an agent keeps stdin open while it waits: read until both calls are answered
        while time.monotonic() < deadline and sum('"id":2' in x.replace(" ", "") or '"id":3' in x.replace(" ", "")
                                                   for x in lines) < 2:
            if select.select([proc.stdout], [], [], 1.0)[0]:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
        out, err = proc.communicate(timeout=60)  # closes stdin: the server ends
    except BaseException:
        proc.kill()
        raise
    lines = [line for line in lines + out.splitlines() if line.strip()]
    replies = [json.loads(line) for line in lines]          # every line parses...
    assert all(r.get("jsonrpc") == "2.0" for r in replies)  # ...as JSON-RPC
    by_id = {r.get("id"): r for r in replies}
    assert {1, 2, 3} <= set(by_id)
    found = by_id[2]["result"]["structuredContent"]["findings"]
    assert [f["id"] for f in found] == ["selector-matches-no-pods"]
    assert by_id[3]["result"]["isError"] is True
    logged = [json.loads(line) for line in err.splitlines() if line.startswith('{"tool"')]
    assert sorted((e["tool"], e["outcome"]) for e in logged) == [("diagnose_service", "error"), ("diagnose_service", "exit 2")]
    assert "Traceback" not in err
    answer = next(x for x in lines if '"id":2' in x.replace(" ", ""))
    print(f"tools/call diagnose_service shop/web-api: request {len(json.dumps(msgs[2]))} bytes, "
          f"response {len(answer.encode())} bytes")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_needs_the_token_and_a_known_host(cp, ran_selector_typo, tmp_path):
    port, secret = _free_port(), "t" * 8 + os.urandom(12).hex()
    env = {**agent_env(cp), "SVCDOCTOR_MCP_TOKEN": secret}
    proc = subprocess.Popen([cli(), "mcp", "--http", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        head = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        assert httpx.post(url, json=init, headers=head).status_code == 401
        assert httpx.post(url, json=init, headers={**head, "Authorization": "Bearer wrong" + secret}).status_code == 401
        evil = httpx.post(url, json=init, headers={**head, "Authorization": f"Bearer {secret}", "Host": "evil.example"})
        assert evil.status_code == 421

        async def go():
            async with create_mcp_http_client(headers={"Authorization": f"Bearer {secret}"}) as http:
                async with Client(streamable_http_client(url, http_client=http)) as c:
                    names = {t.name for t in (await c.list_tools()).tools}
                    return names, await c.call_tool("diagnose_service", {"namespace": "shop", "name": "web-api"})
        names, diag = anyio.run(go)
        assert names == TOOLS and ids(diag) == ["selector-matches-no-pods"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and secret not in err + out


@pytest.mark.parametrize("args,env,words", [
    (["--http"], {}, "needs a bearer token"),
    (["--http", "--host", "10.20.30.40"], {"SVCDOCTOR_MCP_TOKEN": "x" * 32}, "--allowed-host"),
    (["--access", "/nonexistent.yaml"], {}, "cannot read it"),
    (["--from", "/nonexistent.yaml"], {}, "no such file"),
])
def test_bad_server_options_are_one_line(args, env, words):
    proc = subprocess.run([cli(), "mcp", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SVCDOCTOR_MCP_TOKEN": "", **env}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3 and words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.fixture
def ran_selector_typo(cp):
    """The selector-typo scenario on the shared control plane (shop/web-api)."""
    import scenarios

    sc = scenarios.BY_NAME["selector-typo"]
    exists = subprocess.run([str(cp.binaries / "kubectl"), f"--kubeconfig={cp.kubeconfig}", "get", "service",
                             "web-api", "-n", "shop"], capture_output=True, text=True)
    if exists.returncode != 0:
        scenarios.run(cp, sc)
    return sc


def test_no_credential_reaches_the_agent(tmp_path):
    """An event quoting a failing request with a bearer token and a password: the answer
    cites the event, masked; probes stay off unless asked."""
    dump = crowded_namespace_dump(tmp_path / "big.json", pods=16)
    doc = json.loads(dump.read_text())
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmNkb2N0b3IifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    for item in doc["items"]:
        if item["kind"] == "Event" and item["involvedObject"]["name"].startswith("app-1-"):
            item["message"] = (f"Readiness probe failed: GET http://admin:hunter22@10.1.1.1/healthz "
                               f"Authorization: Bearer {jwt} password=hunter22")
    dump.write_text(json.dumps(doc))
    r = call(build(Tools(source=str(dump))), "diagnose_service", {"namespace": "big", "name": "app-1"})
    text = json.dumps(r.structured_content) + r.content[0].text
    assert ids(r) and "Readiness probe failed" in text
    assert "hunter22" not in text and jwt not in text and "<masked>" in text
    assert "nothing was probed" in r.structured_content["probes"]
