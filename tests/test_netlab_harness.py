"""Self-tests of the network lab (tests/netlab.py): every outcome it promises, for real.

Skipped without root / ip / iptables, except under CI=true where that is a failure.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from netlab import DNS_IP, NETNS_ETC_DIR, NetLab

IN_CI = os.environ.get("CI") == "true"
CONNECT_TIMEOUT = 0.5


def require_lab() -> None:
    ok, reason = NetLab.available()
    if not ok:
        if IN_CI:
            pytest.fail(f"network lab unavailable under CI: {reason}")
        pytest.skip(f"network lab unavailable: {reason}")


@pytest.fixture(scope="module")
def lab() -> Iterator[NetLab]:
    require_lab()
    with NetLab() as lab:
        yield lab


def connect_outcome(ip: str, port: int, timeout: float = CONNECT_TIMEOUT) -> tuple[str, float]:
    """('connected' | 'timeout' | errno name, seconds) for one TCP connect from this thread."""
    t0 = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
            outcome = "connected"
        except TimeoutError:
            outcome = "timeout"
        except OSError as exc:
            outcome = errno.errorcode.get(exc.errno or 0, str(exc))
    return outcome, time.monotonic() - t0


# A listener sits behind every rule, so the outcome is the rule's doing, not a closed port.
@pytest.mark.parametrize(
    ("ip", "rule", "expected"),
    [
        ("127.0.0.21", "drop", "timeout"),
        ("127.0.0.22", "reject_host_prohibited", "EHOSTUNREACH"),
        ("127.0.0.23", "reject_reset", "ECONNREFUSED"),
        ("127.0.0.24", None, "connected"),
    ],
)
def test_iptables_outcomes(lab: NetLab, ip: str, rule: str | None, expected: str) -> None:
    port = 30080
    lab.backend(ip, port)
    added = getattr(lab, rule)(ip, port) if rule else None
    with lab.inside():
        outcome, took = connect_outcome(ip, port)
    assert outcome == expected, f"{rule}: {outcome} after {took:.2f}s"
    if expected == "timeout":
        assert CONNECT_TIMEOUT * 0.9 <= took < CONNECT_TIMEOUT + 1.0
    else:
        assert took < CONNECT_TIMEOUT / 2  # refused/unreachable come back at once
    if added is not None:
        assert str(added).startswith(f"-A INPUT -d {ip} -p tcp --dport {port} -j ")
        lab.delete_rule(added)
        with lab.inside():
            assert connect_outcome(ip, port)[0] == "connected"


def test_no_listener_is_refused_and_flush_clears_rules(lab: NetLab) -> None:
    with lab.inside():
        assert connect_outcome("127.0.0.25", 30081)[0] == "ECONNREFUSED"
    lab.backend("127.0.0.25", 30081)
    lab.drop("127.0.0.25", 30081)
    assert lab.rules()
    with lab.inside():
        assert connect_outcome("127.0.0.25", 30081, timeout=0.2)[0] == "timeout"
    lab.flush()
    assert lab.rules() == [] and "-A INPUT" not in lab.iptables("-S").stdout
    with lab.inside():
        assert connect_outcome("127.0.0.25", 30081)[0] == "connected"


def test_lab_is_isolated_from_host(lab: NetLab) -> None:
    """A listener in the lab is invisible from the host netns, and enter/leave switch."""
    port = lab.backend("127.0.0.26", 0).port
    assert not lab.is_inside()
    assert connect_outcome("127.0.0.26", port)[0] == "ECONNREFUSED"  # host's lo: nothing there
    with lab.inside():
        assert lab.is_inside()
        assert connect_outcome("127.0.0.26", port)[0] == "connected"
    assert not lab.is_inside()


def test_nodeport_reaches_backend_over_http(lab: NetLab) -> None:
    import httpx

    lab.backend("127.0.0.101", 8080)
    np = lab.nodeport("127.0.0.11", 30090, backend=("127.0.0.101", 8080))
    dead = lab.nodeport("127.0.0.11", 30091, backend=("127.0.0.102", 8080))  # nothing there
    with lab.inside(), httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(2):  # keep-alive through the splice
            r = client.get(f"{np.url}any/path")
            assert (r.status_code, r.text) == (200, "backend 127.0.0.101:8080")
        with pytest.raises(httpx.TransportError):
            client.get(dead.url)


HEALTH_NEW = (
    '{\n\t"service": {\n\t\t"namespace": "%s",\n\t\t"name": "%s"\n\t},'
    '\n\t"localEndpoints": %d,\n\t"serviceProxyHealthy": %s\n}'
)
HEALTH_OLD = '{"service": {"namespace": "%s","name": "%s"},"localEndpoints": %d}'


@pytest.mark.parametrize("old_format", [False, True], ids=["new", "old"])
@pytest.mark.parametrize("local_endpoints", [0, 1])
def test_health_check_server(lab: NetLab, local_endpoints: int, old_format: bool) -> None:
    import httpx

    node = f"127.0.0.{31 + local_endpoints + 2 * old_format}"
    hc = lab.health_check(node, 32000, namespace="default", name="web", local_endpoints=local_endpoints,
                          old_format=old_format)
    with lab.inside(), httpx.Client(trust_env=False, timeout=5) as client:
        responses = [client.get(f"{hc.url}{path}") for path in ("healthz", "", "anything/at/all")]
    for r in responses:  # any path: the handler is mounted at "/"
        assert r.status_code == (200 if local_endpoints else 503)
        assert r.reason_phrase == ("OK" if local_endpoints else "Service Unavailable")
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-content-type-options"] == "nosniff"
        if old_format:
            assert "x-load-balancing-endpoint-weight" not in r.headers
            assert r.text == HEALTH_OLD % ("default", "web", local_endpoints)
        else:
            assert r.headers["x-load-balancing-endpoint-weight"] == str(local_endpoints)
            assert r.text == HEALTH_NEW % ("default", "web", local_endpoints, "true")
        assert int(r.headers["content-length"]) == len(r.content)
        assert json.loads(r.text)["localEndpoints"] == local_endpoints


def test_health_check_proxy_unhealthy_and_live_update(lab: NetLab) -> None:
    import httpx

    hc = lab.health_check("127.0.0.35", 32001, namespace="ns", name="svc", local_endpoints=2, proxy_healthy=False)
    with lab.inside(), httpx.Client(trust_env=False, timeout=5) as client:
        r = client.get(hc.url)
        assert r.status_code == 503 and r.headers["x-load-balancing-endpoint-weight"] == "2"
        assert r.text == HEALTH_NEW % ("ns", "svc", 2, "false")
        lab.update(hc, proxy_healthy=True)
        assert client.get(hc.url).status_code == 200
        lab.update(hc, local_endpoints=0)
        assert client.get(hc.url).status_code == 503


def test_health_check_http10_wire_format(lab: NetLab) -> None:
    """What nmap/old probes see: an HTTP/1.0 request gets an HTTP/1.0 answer, then close."""
    hc = lab.health_check("127.0.0.36", 32002, namespace="default", name="wp-nginx-service", local_endpoints=1)
    with lab.inside(), socket.create_connection((hc.ip, hc.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        raw = b""
        while chunk := s.recv(4096):
            raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.0 200 OK"
    assert lines[1:4] == ["Content-Type: application/json", "X-Content-Type-Options: nosniff",
                          "X-Load-Balancing-Endpoint-Weight: 1"]
    assert "Content-Length: 127" in lines  # as in the real capture (failure-modes.md §2.4)
    assert len(body) == 127


RECORDS = {"lb-1234.elb.example.test": ["127.0.0.11", "127.0.0.12"], "v6.example.test": ["::1"]}
CNAMES = {"shop.example.test": "alias.example.test", "alias.example.test": "lb-1234.elb.example.test",
          "dangling.example.test": "deleted-lb.elb.example.test"}


def test_dns_server_with_dnspython(lab: NetLab) -> None:
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.resolver

    lab.dns(RECORDS, CNAMES)
    with lab.inside():
        res = lab.resolver()
        a = res.resolve("lb-1234.elb.example.test", "A")
        assert sorted(r.address for r in a) == ["127.0.0.11", "127.0.0.12"]
        chained = res.resolve("shop.example.test", "A")
        assert str(chained.canonical_name) == "lb-1234.elb.example.test."
        assert [str(rr.name) for rr in chained.response.answer][:2] == ["shop.example.test.", "alias.example.test."]
        assert [r.address for r in res.resolve("v6.example.test", "AAAA")] == ["::1"]
        with pytest.raises(dns.resolver.NoAnswer):  # name exists, no A: NODATA, not NXDOMAIN
            res.resolve("v6.example.test", "A")
        for missing in ("nope.example.test", "dangling.example.test"):
            with pytest.raises(dns.resolver.NXDOMAIN):
                res.resolve(missing, "A")
        # TCP too, and the answer is authoritative.
        tcp = dns.query.tcp(dns.message.make_query("SHOP.example.test", "A"), DNS_IP, timeout=2)
        assert tcp.rcode() == dns.rcode.NOERROR and tcp.flags & dns.flags.AA
        assert "lb-1234.elb.example.test." in tcp.to_text()


def test_dns_via_lab_resolv_conf(lab: NetLab) -> None:
    """Processes started with lab.run() resolve through the lab DNS (glibc, no config)."""
    lab.dns(RECORDS, CNAMES)
    script = (
        "import json, socket\n"
        "out = {'resolv': open('/etc/resolv.conf').read()}\n"
        "out['shop'] = socket.gethostbyname_ex('shop.example.test')\n"
        "try:\n"
        "    socket.getaddrinfo('nope.example.test', 80)\n"
        "except socket.gaierror as e:\n"
        "    out['nope'] = e.errno\n"
        "print(json.dumps(out))\n"
    )
    p = lab.run(["python3", "-c", script], timeout=20)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert f"nameserver {DNS_IP}" in out["resolv"]
    name, aliases, addrs = out["shop"]
    assert name == "lb-1234.elb.example.test" and "shop.example.test" in aliases
    assert sorted(addrs) == ["127.0.0.11", "127.0.0.12"]
    assert out["nope"] == socket.EAI_NONAME


def test_close_removes_everything() -> None:
    require_lab()
    lab = NetLab()
    lab.backend("127.0.0.11", 0)
    lab.drop("127.0.0.12", 80)
    server_pid = lab._server.pid if lab._server else None
    name = lab.name
    assert name in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    lab.close()
    lab.close()  # idempotent
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not (NETNS_ETC_DIR / name).exists() and not lab.workdir.exists()
    assert server_pid is not None and not os.path.exists(f"/proc/{server_pid}")


def test_enter_is_per_thread_and_outside_goes_back(lab: NetLab) -> None:
    import threading

    seen: dict[str, bool] = {}

    def worker() -> None:
        with lab.inside():
            seen["worker_inside"] = lab.is_inside()
            child: dict[str, bool] = {}
            t = threading.Thread(target=lambda: child.setdefault("inside", lab.is_inside()))
            t.start()
            t.join(10)
            seen["child_inherits"] = child["inside"]  # threads are born in their creator's netns
            with lab.outside():
                seen["outside"] = lab.is_inside()
            seen["back_inside"] = lab.is_inside()
            seen["main_unaffected"] = main_inside

    main_inside = lab.is_inside()
    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert seen == {"worker_inside": True, "child_inherits": True, "outside": False,
                    "back_inside": True, "main_unaffected": False}
    assert not lab.is_inside()


@pytest.mark.controlplane
def test_controlplane_runs_inside_lab(lab: NetLab) -> None:
    """The point of enter(): etcd, kube-apiserver, KCM, scheduler, kwok and the Python
    client all live in the lab; nothing of it is visible from the host netns."""
    import controlplane

    ok, reason = controlplane.ControlPlane.available()
    if not ok:
        if IN_CI:
            pytest.fail(f"control plane unavailable under CI: {reason}")
        pytest.skip(f"control plane unavailable: {reason}")
    lab_ino = os.stat(lab.netns_path).st_ino
    with lab.inside():
        with controlplane.ControlPlane() as cp:
            api_port = int(cp.server.rsplit(":", 1)[1])
            assert {os.stat(f"/proc/{pid}/ns/net").st_ino for pid in cp.pids.values()} == {lab_ino}
            cp.add_node("lab-node-a", "127.0.0.41")
            svc = cp.core_v1().create_namespaced_service("default", {
                "metadata": {"name": "lab-web"},
                "spec": {"type": "NodePort", "selector": {"app": "web"},
                         "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30099}]},
            })
            assert svc.spec.ports[0].node_port == 30099
            with lab.outside():
                assert connect_outcome("127.0.0.1", api_port)[0] == "ECONNREFUSED"
        assert connect_outcome("127.0.0.1", api_port)[0] == "ECONNREFUSED"  # stopped for real
