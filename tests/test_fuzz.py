"""Property-based tests: whatever the input, svcdoctor answers with exit 0–4 and, when it
refuses, one line on stderr — never a traceback, never an internal error, never a check
that crashed on its input, and nothing written when it fails.

Every loader and parser is covered: recordings, kubectl Lists (YAML and JSON), the JSON
stream and the folder of ``kubectl cluster-info dump``, text-level corruption, kube-proxy
health-check bodies (also through a real HTTP server on loopback), DNS answers (from a real
DNS server on loopback), the plugins' YAML tables, playbooks and kubeconfig files.

The inputs start from the bundled recordings (recorded from a real kube-apiserver) and are
mutated: a value replaced by any JSON value, a key dropped, the text cut or garbled.

CI runs a fixed number of examples with a fixed seed (``derandomize``); for a longer run::

    python scripts/fuzz.py --scale 20          # 20x the examples, a random seed
"""

from __future__ import annotations

import contextlib
import copy
import http.server
import io
import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svcdoctor import cli, probes, shapes, tables
from svcdoctor.diagnose import diagnose
from svcdoctor.errors import SvcdoctorError
from svcdoctor.sources import kubeconfig as kubeconfig_files
from svcdoctor.sources.recording import digest, evidence_from_recording
from svcdoctor.wording import cause_facts

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "svcdoctor"
SCALE = int(os.environ.get("SVCDOCTOR_FUZZ_SCALE", "1"))
DERANDOMIZE = os.environ.get("SVCDOCTOR_FUZZ_RANDOM", "") == ""
CHECK_CRASHED = "it failed:"  # how diagnose() words a check that raised (svcdoctor/diagnose.py)
_LOAD = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RECORDINGS = {p.stem: yaml.load(p.read_text(), Loader=_LOAD) for p in sorted((PKG / "recordings").glob("*.yaml"))}


def examples(n: int):
    return settings(max_examples=n * SCALE, derandomize=DERANDOMIZE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --- strategies ------------------------------------------------------------------------

# Keys from a fixed set: a random key must never spell a kubeconfig "exec" or "auth-provider".
KEYS = st.sampled_from(["a", "name", "kind", "items", "spec", "status", "ports", "0", ""])
SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False)
           | st.text(max_size=12) | st.sampled_from(["", "80", "http", "-1", "2026-13-45T99:99:99Z",
                                                     "2026-11-24T10:00:00", "None", "True", "{", "*x"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=6)


@st.composite
def mutated(draw, doc, start=None):
    """A deep copy of ``doc`` with one value replaced or one key dropped."""
    doc = copy.deepcopy(doc)
    node = doc if start is None else start(doc, draw)
    parent, key = None, None
    for depth in range(14):
        if not isinstance(node, (dict, list)) or not node:
            break
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key_here = draw(st.sampled_from(keys))
        parent, key, node = node, key_here, node[key_here]
        if depth and draw(st.integers(0, 3)) == 0:
            break
    if parent is None:
        return doc
    if isinstance(parent, dict) and draw(st.integers(0, 5)) == 0:
        del parent[key]
    else:
        parent[key] = draw(JSON)
    return doc


def _in_items(doc, draw):
    """Start the walk inside one object: that is where the checks read."""
    items = doc.get("items") if isinstance(doc, dict) else None
    if isinstance(items, list) and items and draw(st.integers(0, 4)):
        return items[draw(st.integers(0, len(items) - 1))]
    return doc


def recordings() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(RECORDINGS))


# --- the property ----------------------------------------------------------------------

def run_cli(*args: str) -> tuple[int, str, str]:
    os.environ.pop("SVCDOCTOR_DEBUG", None)  # a traceback would be raised instead of printed
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(args))
    return rc, out.getvalue(), err.getvalue()


def assert_contained(rc: int, out: str, err: str) -> None:
    assert rc in (0, 1, 2, 3, 4), (rc, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if rc >= 3:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("svcdoctor: error: "), err
    else:
        doc = json.loads(out)
        crashed = [f["facts"] for r in [doc, *doc.get("backends", [])] for f in r["findings"]
                   if CHECK_CRASHED in str(f["facts"].get("reason", ""))]
        assert not crashed, crashed  # checks trust their input only because sources check it


def diagnose_file(path: Path, *extra: str) -> None:
    rc, out, err = run_cli("diagnose", "--from", str(path), "-o", "json", *extra)
    assert_contained(rc, out, err)


def _write_recording(doc, where: Path) -> Path:
    if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict) and "digest" in doc["metadata"]:
        doc["metadata"]["digest"] = digest(doc.get("items"))  # the mutation must reach the checks
    where.write_text(json.dumps(doc) if where.suffix == ".json" else yaml.safe_dump(doc))
    return where


# --- recordings ------------------------------------------------------------------------

@examples(300)
@given(data=st.data(), name=recordings())
def test_mutated_recordings(data, name):
    doc = data.draw(mutated(RECORDINGS[name], _in_items))
    with tempfile.TemporaryDirectory() as tmp:
        diagnose_file(_write_recording(doc, Path(tmp) / "rec.yaml"))


CLOUD_RECORDINGS = sorted(n for n, d in RECORDINGS.items() if d.get("external"))


def _in_external(doc, draw):
    """Start the walk inside the cloud's recorded state: the cloud checks read only that."""
    ext = doc.get("external") if isinstance(doc, dict) else None
    return ext if isinstance(ext, dict) and draw(st.integers(0, 5)) else doc


@examples(120)
@given(data=st.data(), name=st.sampled_from(CLOUD_RECORDINGS))
def test_mutated_cloud_state(data, name):
    """Recorded AWS state with one value replaced by any JSON value or one key dropped: the
    recording is refused in one line, or every cloud check runs to its end."""
    doc = data.draw(mutated(RECORDINGS[name], _in_external))
    with tempfile.TemporaryDirectory() as tmp:
        diagnose_file(_write_recording(doc, Path(tmp) / "rec.yaml"))


L7_RECORDINGS = sorted(n for n, d in RECORDINGS.items()
                       if any(i.get("kind") in ("Ingress", "HTTPRoute") for i in d["items"]))


def _front_targets(doc: dict) -> list[list[str]]:
    """ingress/NAME and httproute/NAME for each front object, and a URL per host."""
    out = []
    for i in doc["items"]:
        if i.get("kind") in ("Ingress", "HTTPRoute"):
            meta = i.get("metadata") or {}
            out.append([f"{i['kind'].lower()}/{meta.get('name')}", "-n", str(meta.get("namespace"))])
            spec = i.get("spec") or {}
            hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")] + list(spec.get("hostnames") or [])
            out += [[f"https://{h}/a/b"] for h in hosts[:1]]
    return out


@examples(120)
@given(data=st.data(), name=st.sampled_from(L7_RECORDINGS))
def test_mutated_recordings_as_l7_targets(data, name):
    """ingress/, httproute/ and URL targets over mutated recordings of the L7 scenarios."""
    target = data.draw(st.sampled_from(_front_targets(RECORDINGS[name])))
    doc = data.draw(mutated(RECORDINGS[name], _in_items))
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run_cli("diagnose", *target, "--from", str(_write_recording(doc, Path(tmp) / "rec.yaml")),
                               "-o", "json")
        assert_contained(rc, out, err)


@examples(60)
@given(data=st.data(), name=recordings())
def test_record_writes_nothing_on_failure(data, name):
    doc = data.draw(mutated(RECORDINGS[name], _in_items))
    with tempfile.TemporaryDirectory() as tmp:
        src = _write_recording(doc, Path(tmp) / "in.yaml")
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        rc, out, err = run_cli("record", "svc/" + RECORDINGS[name]["metadata"]["target"]["name"],
                               "-n", RECORDINGS[name]["metadata"]["target"]["namespace"],
                               "--from", str(src), "-o", str(out_dir / "r.yaml"))
        assert rc in (0, 3, 4), err
        if rc:
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
            assert list(out_dir.iterdir()) == []  # no file, no temp file left behind
        else:
            diagnose_file(out_dir / "r.yaml")  # what it wrote replays


@examples(150)
@given(data=st.data(), name=recordings())
def test_corrupted_recording_text(data, name):
    text = (PKG / "recordings" / f"{name}.yaml").read_text()
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=6) | st.sampled_from(["*a", "&a [1]", "\t", "\x00", ": :", "- ", "{", "]"]))
    mode = data.draw(st.sampled_from(["truncate", "insert", "replace", "not-utf8"]))
    raw = {"truncate": text[:cut], "insert": text[:cut] + junk + text[cut:],
           "replace": text[:cut] + junk + text[cut + len(junk):], "not-utf8": text[:cut]}[mode].encode()
    if mode == "not-utf8":
        raw += b"\xff\xfe" + text[cut:].encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.yaml"
        path.write_bytes(raw)
        diagnose_file(path)


# --- kubectl output --------------------------------------------------------------------

def _target(name: str) -> list[str]:
    t = RECORDINGS[name]["metadata"]["target"]
    return [f"svc/{t['name']}", "-n", t["namespace"]]


@examples(200)
@given(data=st.data(), name=recordings(), fmt=st.sampled_from(["json", "yaml"]))
def test_mutated_kubectl_lists(data, name, fmt):
    """``kubectl get … -o json|yaml``: a List of the recording's objects, as the server sent them."""
    listing = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
               "items": RECORDINGS[name]["items"]}
    doc = data.draw(mutated(listing, _in_items))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"get.{fmt}"
        path.write_text(json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc))
        rc, out, err = run_cli("diagnose", *_target(name), "--from", str(path), "-o", "json")
        assert_contained(rc, out, err)


def _typed_lists(items: list[dict]) -> dict[str, dict]:
    """What cluster-info dump writes: one typed list per namespace and kind, nodes apart."""
    files: dict[str, dict] = {}
    for obj in items:
        ns = obj["metadata"].get("namespace", "")
        rel = "nodes.json" if obj["kind"] == "Node" else f"{ns or 'cluster'}/{obj['kind'].lower()}s.json"
        lst = files.setdefault(rel, {"kind": f"{obj['kind']}List", "apiVersion": obj["apiVersion"],
                                     "metadata": {"resourceVersion": "1"}, "items": []})
        lst["items"].append({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
    return files


LOG_LINES = st.lists(st.sampled_from([
    '{"level":"info","ts":"2026-11-24T10:00:00Z","msg":"serving"}', "[INFO] listening on :8080",
    "panic: runtime error", "{not json", "]", '{"kind": 5}', "==== END logs ====", ""]) | st.text(max_size=20),
    max_size=4)


@examples(120)
@given(data=st.data(), name=recordings(), logs=LOG_LINES)
def test_mutated_cluster_info_dump_stream(data, name, logs):
    """``kubectl cluster-info dump`` to stdout: JSON lists back to back, container logs between."""
    lists = list(_typed_lists(RECORDINGS[name]["items"]).values())
    i = data.draw(st.integers(0, len(lists) - 1))
    lists[i] = data.draw(mutated(lists[i], _in_items))
    parts = []
    for lst in lists:
        parts.append(json.dumps(lst, indent=4))
        parts.append("==== START logs for container app of pod x/y ====\n" + "\n".join(logs)
                     + "\n==== END logs for container app of pod x/y ====")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump.json"
        path.write_text("\n".join(parts))
        rc, out, err = run_cli("diagnose", *_target(name), "--from", str(path), "-o", "json")
        assert_contained(rc, out, err)


@examples(100)
@given(data=st.data(), name=recordings())
def test_mutated_cluster_info_dump_folder(data, name):
    """``kubectl cluster-info dump --output-directory``: a folder of typed lists and logs."""
    files = _typed_lists(RECORDINGS[name]["items"])
    rel = data.draw(st.sampled_from(sorted(files)))
    corrupt_text = data.draw(st.booleans())
    with tempfile.TemporaryDirectory() as tmp:
        for r, lst in files.items():
            path = Path(tmp) / r
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(data.draw(mutated(lst, _in_items)) if r == rel and not corrupt_text else lst)
            if r == rel and corrupt_text:
                text = text[:data.draw(st.integers(0, len(text)))]
            path.write_text(text)
            (path.parent / "pod-logs.txt").write_text("\n".join(["{", "log line"]))
        rc, out, err = run_cli("diagnose", *_target(name), "--from", tmp, "-o", "json")
        assert_contained(rc, out, err)


def test_structured_log_lines_in_a_dump_stream_are_logs(tmp_path):
    """A JSON log line between the lists is a log, not an object without a kind."""
    lists = list(_typed_lists(RECORDINGS["readiness-failing"]["items"]).values())
    log = '{"level":"info","ts":"2026-11-24T10:00:00Z","msg":"GET /healthz 503"}'
    path = tmp_path / "dump.json"
    path.write_text(f"\n{log}\n".join(json.dumps(x) for x in lists))
    rc, out, err = run_cli("diagnose", "svc/invoices", "-n", "billing", "--from", str(path), "-o", "json")
    assert rc == 2, err
    assert [f["id"] for f in json.loads(out)["findings"] if f["id"] != "could-not-verify"] == ["no-ready-endpoints"]


# --- kube-proxy health-check bodies ----------------------------------------------------

HEALTH_BODIES = st.one_of(
    st.text(max_size=60),
    st.fixed_dictionaries({}, optional={"service": JSON, "localEndpoints": JSON, "serviceProxyHealthy": JSON,
                                        "currentTime": JSON}).map(json.dumps),
    JSON.map(json.dumps),
)


@examples(400)
@given(status=st.integers(100, 599), body=HEALTH_BODIES)
def test_health_check_bodies(status, body):
    detail = probes.health_detail(status, body)
    shapes.conform(detail, probes.SHAPE["detail"])  # the shape recordings and checks rely on
    assert detail["status"] == status


class _Answer(http.server.BaseHTTPRequestHandler):
    status, body = 200, b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(type(self).body)))
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@examples(40)
@given(status=st.sampled_from([200, 503, 500, 404]), body=HEALTH_BODIES)
def test_health_check_answers_over_http(health_server, status, body):
    """A real HTTP server on loopback answers the prober; the outcome replays in a recording."""
    _Answer.status, _Answer.body = status, body.encode("utf-8", "replace")
    (p,) = probes.run([probes.Probe("http", "health-check", f"127.0.0.1:{health_server}", host="127.0.0.1",
                                    port=health_server, node="node-a", path="/healthz")],
                      probes.ProbeOptions(timeout=2.0))
    assert p.outcome == "open" and p.detail["status"] == status
    shapes.conform(p.to_dict(), probes.SHAPE)
    # Into a recording of an externalTrafficPolicy: Local Service, in place of node-a's answer.
    doc = copy.deepcopy(RECORDINGS["lab-local-one-of-three"])
    doc["probes"] = [dict(q, detail=p.to_dict()["detail"]) if q.get("purpose") == "health-check"
                     and q.get("node") == "node-a" else q for q in doc["probes"]]
    doc["metadata"].pop("digest", None)
    report = diagnose(evidence_from_recording(doc, "fuzz"))
    assert not [f for f in report.could_not_verify if CHECK_CRASHED in str(f.facts.get("reason"))]


# --- DNS answers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def dns_server():
    """A UDP DNS server on loopback that answers whatever the current example says."""
    import dns.message

    state = {"reply": lambda query: b""}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, addr = sock.recvfrom(4096)
            except OSError:
                continue
            try:
                reply = state["reply"](dns.message.from_wire(wire))
            except Exception:  # noqa: BLE001 - a broken example must not stop the server
                reply = b""
            if reply:
                sock.sendto(reply, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state, sock.getsockname()[1]
    stop.set()
    thread.join(2)
    sock.close()


@st.composite
def dns_replies(draw):
    """A function query → wire reply: well-formed answers of odd content, or garbage."""
    import dns.message
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    kind = draw(st.sampled_from(["records", "rcode", "garbage", "truncated", "wrong-id", "silence"]))
    rcode = draw(st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED]))
    records = draw(st.lists(st.one_of(
        st.tuples(st.just("A"), st.ip_addresses(v=4).map(str)),
        st.tuples(st.just("AAAA"), st.ip_addresses(v=6).map(str)),
        st.tuples(st.just("CNAME"), st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,6}){0,2}\.", fullmatch=True)),
        st.tuples(st.just("TXT"), st.text(alphabet="abc xyz", max_size=10).map(lambda t: f'"{t}"'))), max_size=4))
    garbage = draw(st.binary(max_size=64))
    cut = draw(st.integers(0, 40))

    def reply(query):
        if kind == "silence":
            return b""
        if kind == "garbage":
            return query.id.to_bytes(2, "big") + garbage
        resp = dns.message.make_response(query)
        if kind == "rcode":
            resp.set_rcode(rcode)
        else:
            qname = query.question[0].name
            for rtype, value in records:
                if rtype in ("A", "AAAA") and rtype != dns.rdatatype.to_text(query.question[0].rdtype):
                    continue
                resp.answer.append(dns.rrset.from_text(qname, 30, "IN", rtype, value))
        wire = resp.to_wire()
        if kind == "truncated":
            return wire[:cut]
        if kind == "wrong-id":
            return ((query.id + 1) % 65536).to_bytes(2, "big") + wire[2:]
        return wire

    return reply


@examples(40)
@given(reply=dns_replies())
def test_dns_answers(dns_server, monkeypatch_module, reply):
    state, port = dns_server
    state["reply"] = reply
    (p,) = probes.run([probes.Probe("dns", "external-name", "db.example.test")], probes.ProbeOptions(timeout=0.4))
    assert p.outcome in ("open", "nxdomain", "servfail", "no-answer", "timeout", "error"), p
    shapes.conform(p.to_dict(), probes.SHAPE)
    assert all(isinstance(a, str) for a in p.detail.get("answers", []))


@pytest.fixture(scope="module")
def monkeypatch_module(dns_server):
    """Point the prober's resolver at the loopback DNS server for this module's DNS tests."""
    import dns.asyncresolver

    _, port = dns_server
    original = probes._resolver

    def resolver(timeout: float):
        r = dns.asyncresolver.Resolver(configure=False)
        r.nameservers, r.port, r.lifetime = ["127.0.0.1"], port, timeout
        return r

    probes._resolver = resolver
    yield
    probes._resolver = original


# --- the plugins' tables, playbooks, kubeconfig files ------------------------------------

TABLES = {p.name: yaml.safe_load(p.read_text()) for p in sorted((PKG / "plugins").glob("*.yaml"))}
MESSAGES = sorted({e.get("message", "") for d in RECORDINGS.values() for e in d["items"]
                   if e.get("kind") == "Event"})


@examples(200)
@given(data=st.data(), name=st.sampled_from(sorted(TABLES)),
       regex=st.none() | st.text(alphabet="ab()[]{}*+?|\\^$.0-9:,P<>=", max_size=12))
def test_mutated_plugin_tables(data, name, regex):
    table = data.draw(mutated(TABLES[name]))
    if regex is not None and isinstance(table, list) and table and isinstance(table[0], dict):
        table[0]["match"] = regex
    try:
        entries = tables.parse(yaml.safe_dump(table), name)
    except SvcdoctorError as exc:
        assert "\n" not in str(exc) and name in str(exc)
        return
    for message in MESSAGES[:40] + [data.draw(st.text(max_size=40))]:
        entry, groups = tables.search(entries, message)
        if entry is not None:
            cause_facts(entry, {"namespace": "shop", "service": "web", **groups})


PLAYBOOKS = {p.name: yaml.safe_load(p.read_text()) for p in sorted((PKG / "playbooks").glob("*.yaml"))}


@examples(120)
@given(data=st.data(), name=st.sampled_from(sorted(PLAYBOOKS)), rec=recordings())
def test_mutated_playbooks_dir(data, name, rec):
    """``--playbooks DIR`` with an operator's (broken) file: a report, or one line."""
    book = data.draw(mutated(PLAYBOOKS[name]))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "book.yaml").write_text(yaml.safe_dump(book))
        rec_path = _write_recording(copy.deepcopy(RECORDINGS[rec]), Path(tmp) / "rec.yaml")
        diagnose_file(rec_path, "--playbooks", tmp)


KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "dev",
    "clusters": [{"name": "dev", "cluster": {"server": "https://127.0.0.1:1",
                                             "certificate-authority-data": "bm90IGEgY2VydA=="}}],
    "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev", "namespace": "shop"}}],
    "users": [{"name": "dev", "user": {"token": "not-a-real-token"}}],
}


@examples(150)
@given(data=st.data(), as_text=st.booleans())
def test_mutated_kubeconfig(data, as_text):
    """A file that is not quite a kubeconfig: connected (no request is sent), or one line."""
    from svcdoctor.sources import live

    text = yaml.safe_dump(data.draw(mutated(KUBECONFIG)))
    if as_text:
        cut = data.draw(st.integers(0, len(text)))
        text = text[:cut] + data.draw(st.text(max_size=4)) + text[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config"
        path.write_text(text, errors="replace")
        try:
            kubeconfig_files.check(str(path), None)
            live.connect(kubeconfig=str(path))
        except SvcdoctorError as exc:
            assert "\n" not in str(exc)
            assert "not-a-real-token" not in str(exc)  # credentials never in a message


# --- the LLM's answer ---------------------------------------------------------------------

ANSWER_KEYS = st.sampled_from(["summary", "root_cause", "plan", "finding", "action", "command", "source"])
ANSWERS = st.recursive(SCALARS | st.sampled_from(["selector-matches-no-pods", "playbook", "model",
                                                  "kubectl -n shop get pods", "kubectl delete pod x"]),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANSWER_KEYS, inner, max_size=5),
                       max_leaves=12)


@examples(300)
@given(answer=ANSWERS, wrap=st.sampled_from(["{}", "```json\n{}\n```", "Sure: {} hope it helps", "{}}"]))
def test_model_answers(answer, wrap):
    """Whatever a model says, the check accepts a grounded answer or says why not."""
    from svcdoctor.summary import grounding

    text = wrap.replace("{}", json.dumps(answer), 1)
    try:
        summary, steps = grounding.check(grounding.parse(text), ["selector-matches-no-pods", "no-ready-endpoints"],
                                         {"selector-matches-no-pods": {"kubectl -n shop get pods"}})
    except grounding.Ungrounded as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert summary and steps[0].finding == "selector-matches-no-pods"
    assert all(s.command is None or s.command.startswith("kubectl") for s in steps)
