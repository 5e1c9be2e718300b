"""The prober on real loopback sockets (the lab tier covers DROP/REJECT rules and DNS)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from svcdoctor import probing
from svcdoctor.probes import Probe, ProbeOptions, run
from svcdoctor.evidence import Evidence
from svcdoctor.target import Target


class HealthHandler(http.server.BaseHTTPRequestHandler):
    """kube-proxy's healthCheckNodePort answer, byte for byte (failure-modes §2.4)."""

    local_endpoints = 1
    old = False

    def do_GET(self):  # noqa: N802
        n = self.local_endpoints
        if self.old:
            body = '{"service": {"namespace": "shop","name": "web"},"localEndpoints": %d}' % n
        else:
            body = ('{\n\t"service": {\n\t\t"namespace": "shop",\n\t\t"name": "web"\n\t},\n'
                    f'\t"localEndpoints": {n},\n\t"serviceProxyHealthy": true\n}}')
        self.send_response(200 if n else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    servers = []

    def start(local_endpoints: int, old: bool = False) -> int:
        handler = type("H", (HealthHandler,), {"local_endpoints": local_endpoints, "old": old})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv.server_address[1]
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_open_and_refused():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        dead = closed_port()
        probes = [Probe("tcp", "nodeport", f"127.0.0.1:{port}", host="127.0.0.1", port=port),
                  Probe("tcp", "nodeport", f"127.0.0.1:{dead}", host="127.0.0.1", port=dead)]
        run(probes, ProbeOptions(timeout=2))
    assert [p.outcome for p in probes] == ["open", "refused"]
    assert probes[0].source == "127.0.0.1" and probes[0].latency_ms is not None


@pytest.mark.parametrize("local, old, status, healthy", [
    (1, False, 200, True), (0, False, 503, True), (2, True, 200, None), (0, True, 503, None)])
def test_health_check_body_new_and_old(health_server, local, old, status, healthy):
    port = health_server(local, old)
    p = Probe("http", "health-check", f"127.0.0.1:{port}", host="127.0.0.1", port=port, path="/healthz")
    run([p], ProbeOptions(timeout=2))
    assert p.outcome == "open"
    assert p.detail["status"] == status and p.detail["localEndpoints"] == local
    assert p.detail.get("serviceProxyHealthy") == healthy
    assert p.detail["service"] == "shop/web"


def test_http_probe_refused():
    port = closed_port()
    p = Probe("http", "health-check", f"127.0.0.1:{port}", host="127.0.0.1", port=port)
    run([p], ProbeOptions(timeout=2))
    assert p.outcome == "refused"


def test_probe_roundtrip_through_a_recording_dict():
    p = Probe("http", "health-check", "127.0.0.11:32000", host="127.0.0.11", port=32000, node="node-a",
              outcome="open", latency_ms=1.5, detail={"status": 503, "localEndpoints": 0})
    assert Probe.from_dict(p.to_dict()) == p
    assert "HTTP 503, localEndpoints 0" in p.describe()


def test_planned_targets_must_come_from_the_evidence():
    """A plugin cannot make svcdoctor dial an address the Service's evidence doesn't name."""
    from svcdoctor import hookspecs, registry

    class Rogue:
        @hookspecs.hookimpl
        def plan_probes(self, evidence, plan, options):
            plan(Probe("tcp", "nodeport", "127.0.0.99:22", host="127.0.0.99", port=22))

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.11"}]}}
    import datetime as dt
    ev = Evidence(Target("shop", "web"), [svc, node], {"Service", "Node"},
                  dt.datetime.now(dt.timezone.utc), "test")
    reg = registry.build(extra_plugins=[("rogue", Rogue())], only="backends")  # plans no probes itself
    from svcdoctor.errors import UsageError

    with pytest.raises(UsageError, match="127.0.0.99"):
        probing.probe(ev, reg, ProbeOptions(timeout=0.5))
