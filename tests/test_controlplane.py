"""Tier 3: svcdoctor against a real kube-apiserver, run as a user runs it.

The control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) is
built from Go modules and started on loopback by the ``cp`` fixture. Every scenario is
created through the API and diagnosed by the installed CLI; faults (unreachable server,
bad certificate, bad token, 403, 429/500, a server that hangs) are real too: a real
socket, a real TLS handshake, a real RBAC denial, a real HTTP proxy in front of the
apiserver that injects status codes.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

import scenarios
from helpers import cli
from scan_equivalence import assert_scan_matches_diagnose
from svcdoctor.scan import Scope

ROOT = Path(__file__).resolve().parents[1]
SA_USER = "system:serviceaccount:svcdoctor:svcdoctor"


def svcdoctor(*args: str, kubeconfig: Path | str | None = None, timeout: float = 90,
              prog: str = "svcdoctor", env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", **(env_extra or {})}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run([cli(prog), *args], capture_output=True, text=True, env=env, timeout=timeout)


def ids(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    return sorted(f["id"] for f in doc["findings"] if f["id"] != "could-not-verify")


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def ran(clusters):
    """Scenarios already created on their control plane (each once per control plane)."""
    def ensure(name: str) -> scenarios.Scenario:
        sc = scenarios.BY_NAME[name]
        plane = clusters(sc.cluster)
        # Kept on the plane, so modules sharing it (test_scan_live) never run one twice.
        done = plane.__dict__.setdefault("scenarios_ran", set())
        if name not in done:
            scenarios.run(plane, sc)
            done.add(name)
        return sc
    return ensure


@pytest.mark.parametrize("name", [s.name for s in scenarios.SCENARIOS])
def test_scenario_diagnosed_live(clusters, ran, name):
    sc = ran(name)
    cp = clusters(sc.cluster)
    # --no-probe: kwok runs no kube-proxy, so this cluster has no data plane to probe
    # (the network lab tier probes a real one).
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe", *sc.args,
                     kubeconfig=cp.kubeconfig)
    assert ids(proc) == sorted(sc.expect)
    assert proc.returncode == (0 if not sc.expect else proc.returncode)
    doc = json.loads(proc.stdout)
    if sc.translation:
        (explained,) = [f for f in doc["findings"]
                        if sc.translation in (f["facts"].get("translation"), f["facts"].get("cause_id"))]
        assert explained["id"] in sc.expect
    assert doc["source"].startswith(f"cluster {cp.server}")
    # the request budget holds with the plugins' extra reads (MetalLB's CRDs, the L7 hop)
    assert int(doc["source"].rsplit("(", 1)[1].split()[0]) <= budget(sc), doc["source"]
    # ...and a scan of the namespace finds for each Service what diagnose finds for it
    from svcdoctor.cli import _clients, build_parser

    clients = _clients(build_parser("svcdoctor").parse_args(["diagnose", "svc/x", *sc.args]))
    assert assert_scan_matches_diagnose(str(cp.kubeconfig), Scope(sc.namespace), clients) >= 1


# --- the L7 hop, live (cluster "l7": Gateway API CRDs from the upstream module) ---------

L7_LIVE = [
    ("l7-ingress-wrong-port", ["ingress/cart", "-n", "l7-store"], ["ingress-backend-port-not-found"], ["l7-store/cart"]),
    ("l7-ingress-unclaimed", ["ingress/blog", "-n", "l7-blog"], ["ingress-class-unclaimed"], ["l7-blog/blog"]),
    ("l7-ingress-aws-rejected", ["https://api.shop.example/v1"],
     ["ingress-backend-port-not-found", "ingress-controller-rejected"], ["l7-aws/api"]),
    ("l7-route-ref-not-permitted", ["httproute/pay", "-n", "l7-checkout"], ["route-ref-not-permitted"],
     ["l7-billing/payments"]),
    ("l7-route-backend-typo", ["http://stock.shop.example/stock/42"], ["route-backend-not-found"], []),
    ("l7-route-not-allowed", ["httproute/news", "-n", "l7-news"], ["route-not-accepted"], ["l7-news/news"]),
    ("l7-route-healthy", ["http://orders.shop.example/"], [], ["l7-orders/orders"]),
]


@pytest.mark.parametrize("name,target,front,backends", L7_LIVE, ids=[t[0] + ":" + t[1][0] for t in L7_LIVE])
def test_l7_targets_live(clusters, ran, name, target, front, backends):
    sc = ran(name)
    plane = clusters("l7")
    proc = svcdoctor("diagnose", *target, "-o", "json", "--no-probe", kubeconfig=plane.kubeconfig)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify") == sorted(front)
    assert [b["target"] for b in report.get("backends", [])] == backends
    assert not [f for f in report["findings"] if f["id"] == "could-not-verify"]
    for b in report.get("backends", []):  # each backend diagnosed as a Service, like svc/NAME
        assert sorted(f["id"] for f in b["findings"] if f["id"] != "could-not-verify") == \
            sorted(i for i in sc.expect if not i.startswith(("ingress-", "route-", "gateway-")))
    assert proc.returncode == (2 if front or any(b["exitCode"] == 2 for b in report.get("backends", [])) else 0)


def test_l7_reader_role_reads_everything_within_the_budget(clusters, ran, tmp_path):
    """The shipped role covers the L7 kinds: every L7 scenario diagnoses complete (no 403),
    read-only; a Service nobody routes to costs only the lookups, the rest only when needed."""
    names = [s.name for s in scenarios.SCENARIOS if s.cluster == "l7" and s.name.startswith("l7-")]
    for name in names:
        ran(name)
    plane = clusters("l7")
    plane.create_namespace("l7-plain")
    plane.kubectl("apply", "-f", "-", input="\n---\n".join(
        [scenarios.deployment("plain", "l7-plain", {"app": "plain"}), scenarios.service("plain", "l7-plain", {"app": "plain"})]))
    plane.kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    token = plane.create_token("svcdoctor", "svcdoctor", create_service_account=False)
    kubeconfig = plane.kubeconfig_for_token(token, tmp_path / "kubeconfig")
    for name in names:
        sc = scenarios.BY_NAME[name]
        before = len(plane.audit_events(user=SA_USER))
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                         kubeconfig=kubeconfig)
        assert ids(proc) == sorted(sc.expect), name
        assert "403" not in proc.stdout
        requests = plane.audit_events(user=SA_USER)[before:]
        assert len(requests) <= budget(sc) and {e["verb"] for e in requests} <= {"get", "list"}, name
    plane.wait_until(lambda: scenarios._all_pods_running(plane, scenarios.Scenario(
        "p", "", "l7-plain", "plain", [], [])), timeout=60, what="plain running")
    before = len(plane.audit_events(user=SA_USER))
    proc = svcdoctor("diagnose", "svc/plain", "-n", "l7-plain", "-o", "json", "--no-probe", kubeconfig=kubeconfig)
    assert ids(proc) == []
    uris = [e["requestURI"].split("?")[0] for e in plane.audit_events(user=SA_USER)[before:]]
    # the first round (6), the two L7 lookups, the four route lists (a GatewayClass exists),
    # the NetworkPolicies (none selects by namespace here) and the API discovery: nothing else
    assert len(uris) <= 14, uris
    assert "/apis" in uris
    assert "/apis/networking.k8s.io/v1/ingresses" in uris and "/apis/gateway.networking.k8s.io/v1/httproutes" in uris
    assert not [u for u in uris if u.endswith(("ingressclasses", "gateways", "referencegrants", "/services"))], uris
    assert plane.mutating_requests(SA_USER) == []


def test_l7_kubectl_output_as_input_matches_live(clusters, ran, tmp_path):
    """The README's offline line, with the L7 kinds: the same findings as the live cluster."""
    for name in ("l7-ingress-wrong-port", "l7-route-ref-not-permitted", "l7-ingress-unclaimed"):
        ran(name)
    plane = clusters("l7")
    dump = tmp_path / "dump.yaml"
    dump.write_text(plane.kubectl("get", "svc,endpointslices,endpoints,pods,events,nodes,ingress,ingressclass,"
                                  "gatewayclass,gateway,httproute,referencegrant", "-A", "-o", "yaml").stdout)
    for name in ("l7-ingress-wrong-port", "l7-route-ref-not-permitted", "l7-ingress-unclaimed"):
        sc = scenarios.BY_NAME[name]
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "--from", str(dump), "-o", "json")
        assert ids(proc) == sorted(sc.expect), name
    proc = svcdoctor("diagnose", "ingress/cart", "-n", "l7-store", "--from", str(dump), "-o", "json")
    assert ids(proc) == ["ingress-backend-port-not-found"]


def test_route_target_without_gateway_api_is_one_line(cp):
    """The shared control plane has no Gateway API: 404 on the route kind, said plainly."""
    proc = svcdoctor("diagnose", "httproute/web", "-n", "default", kubeconfig=cp.kubeconfig)
    assert proc.returncode == 3
    assert "the Gateway API (HTTPRoute) is not installed in this cluster" in one_line(proc)
    proc = svcdoctor("diagnose", "https://nothing.example/", kubeconfig=cp.kubeconfig)
    assert proc.returncode == 3 and "no Ingress rule or route matches https://nothing.example/" in one_line(proc)


def test_loadbalancer_without_implementation_is_really_pending(cp):
    """No cloud controller, no MetalLB: the apiserver allocates NodePorts and nothing more."""
    cp.create_namespace("edge-raw")
    cp.kubectl("apply", "-f", "-", input=scenarios.service(
        "gateway", "edge-raw", {"app": "gateway"}, extra="type: LoadBalancer\n"))
    cp.kubectl("apply", "-f", "-", input=scenarios.service(
        "local", "edge-raw", {"app": "gateway"},
        extra="type: LoadBalancer\nexternalTrafficPolicy: Local\n"))
    time.sleep(2)
    proc = svcdoctor("diagnose", "svc/gateway", "-n", "edge-raw", "-o", "json", "--no-probe",
                     kubeconfig=cp.kubeconfig)
    svc = json.loads(proc.stdout)["service"]
    assert svc["type"] == "LoadBalancer" and 30000 <= svc["ports"][0]["nodePort"] <= 32767
    # no pods carry app=gateway here, and nothing implements load balancers
    assert ids(proc) == ["lb-pending-no-controller", "selector-matches-no-pods"]
    raw = json.loads(cp.kubectl("-n", "edge-raw", "get", "svc", "gateway", "-o", "json").stdout)
    assert raw["status"]["loadBalancer"] == {}  # pending, for real
    local = json.loads(cp.kubectl("-n", "edge-raw", "get", "svc", "local", "-o", "json").stdout)
    assert 30000 <= local["spec"]["healthCheckNodePort"] <= 32767


def test_kubectl_plugin_discovery(cp, ran, tmp_path):
    """`kubectl svcdoctor …` through kubectl's own plugin lookup on PATH."""
    sc = ran("selector-typo")
    kubectl = Path(cp.bin_dir) / "kubectl"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "kubectl-svcdoctor").symlink_to(cli("kubectl-svcdoctor"))
    # kubectl passes everything after the plugin name through; its own flags may not
    # precede the name, so the kubeconfig comes from the environment as usual.
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "NO_COLOR": "1",
           "KUBECONFIG": str(cp.kubeconfig)}
    proc = subprocess.run([str(kubectl), "svcdoctor", "diagnose",
                           f"svc/{sc.service}", "-n", sc.namespace, "-o", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert ids(proc) == ["selector-matches-no-pods"], proc.stderr


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_kubectl_get_all_namespaces_as_input(cp, ran, tmp_path, fmt):
    """The issue's offline path: `kubectl get svc,endpointslices,endpoints,pods,events,nodes -A -o yaml`."""
    sc = ran("selector-typo")
    ran("pods-in-other-namespace")
    dump = cp.kubectl("get", "svc,endpointslices,endpoints,pods,events,nodes", "-A", "-o", fmt).stdout
    f = tmp_path / f"all.{fmt}"
    f.write_text(dump)
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "--from", str(f), "-o", "json")
    assert ids(proc) == ["selector-matches-no-pods"]
    other = svcdoctor("diagnose", "svc/payments", "-n", "frontend", "--from", str(f), "-o", "json")
    assert ids(other) == ["selector-matches-no-pods", "selector-pods-in-other-namespace"]


def test_cluster_info_dump_as_input(cp, ran, tmp_path):
    sc = ran("readiness-failing")
    out = tmp_path / "dump"
    cp.kubectl("cluster-info", "dump", "--namespaces", sc.namespace, "--output-directory", str(out))
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "--from", str(out), "-o", "json")
    assert ids(proc) == ["no-ready-endpoints"]
    finding = json.loads(proc.stdout)["findings"][0]
    assert "Readiness probe failed" in finding["explanation"]


# --- permissions --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reader_kubeconfig(cp, tmp_path_factory):
    """svcdoctor's shipped read-only ServiceAccount (deploy/rbac.yaml), as a kubeconfig."""
    cp.kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    token = cp.create_token("svcdoctor", "svcdoctor", create_service_account=False)
    return cp.kubeconfig_for_token(token, tmp_path_factory.mktemp("sa") / "kubeconfig")


def budget(sc: scenarios.Scenario) -> int:
    """README "API load": 8 for the Service itself, 2 L7 lookups (Ingresses, GatewayClasses),
    1 NetworkPolicy list (+ Namespaces when a policy selects by namespace), 1 API discovery
    (+ one list per other policy kind installed: 6 in cluster "policy-apis"), 4 route lists
    where Gateway API is in use, and up to 9 more for a Service behind an Ingress or route;
    all Services when a host-network pod failed to bind under kube-proxy < 1.24 (+1)."""
    if sc.cluster == "policy-apis":
        return 19
    if sc.cluster == "old-kube-proxy":
        return 14
    if sc.cluster != "l7":
        return 13
    return 17 if not sc.name.startswith(("l7-", "netpol-")) else 26


def test_read_only_service_account_issues_no_write_and_at_most_12_requests(cp, ran, reader_kubeconfig):
    for name in ("selector-typo", "readiness-failing", "pods-in-other-namespace", "lb-no-implementation",
                 "servicelb-host-port-taken"):
        sc = ran(name)
        before = len(cp.audit_events(user=SA_USER))
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json",
                         "--no-probe", kubeconfig=reader_kubeconfig)
        assert ids(proc) == sorted(sc.expect)
        # complete: nothing could-not-verify but the probes --no-probe turned off
        assert not [f for f in json.loads(proc.stdout)["findings"] if f["id"] == "could-not-verify"
                    and f["subject"] != "network reachability"]
        requests = cp.audit_events(user=SA_USER)[before:]
        assert 1 <= len(requests) <= 12, [e["requestURI"] for e in requests]
        uris = [e["requestURI"].split("?")[0] for e in requests]
        # the L7 lookups: Ingresses, and GatewayClasses (404 here: no Gateway API), nothing more
        assert "/apis/networking.k8s.io/v1/ingresses" in uris and not [u for u in uris if "httproutes" in u]
        assert {e["verb"] for e in requests} <= {"get", "list"}
        assert not any("secrets" in e["requestURI"] for e in requests)
    assert cp.mutating_requests(SA_USER) == []


def test_reader_reads_metallb_within_the_budget(clusters, ran, tmp_path):
    """The shipped role covers MetalLB's CRDs: the diagnoses that read them stay complete,
    read-only and within 12 requests (audit log of the MetalLB control plane)."""
    for name in ("metallb-pool-exhausted", "metallb-not-announced", "metallb-healthy"):
        sc = ran(name)
    plane = clusters("metallb")
    plane.kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    token = plane.create_token("svcdoctor", "svcdoctor", create_service_account=False)
    kubeconfig = plane.kubeconfig_for_token(token, tmp_path / "kubeconfig")
    for name in ("metallb-pool-exhausted", "metallb-not-announced", "metallb-healthy"):
        sc = scenarios.BY_NAME[name]
        before = len(plane.audit_events(user=SA_USER))
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json",
                         "--no-probe", kubeconfig=kubeconfig)
        assert ids(proc) == sorted(sc.expect)
        assert "403" not in proc.stdout  # nothing forbidden: every read was allowed
        requests = plane.audit_events(user=SA_USER)[before:]
        assert len(requests) <= 12 and {e["verb"] for e in requests} <= {"get", "list"}
        assert any("metallb.io" in e["requestURI"] for e in requests) == (name != "metallb-healthy")
    assert plane.mutating_requests(SA_USER) == []


def test_record_from_the_live_cluster_as_the_reader(cp, ran, reader_kubeconfig, tmp_path):
    sc = ran("some-not-ready")
    out = tmp_path / "rec.yaml"
    proc = svcdoctor("record", f"svc/{sc.service}", "-n", sc.namespace, "-o", str(out),
                     kubeconfig=reader_kubeconfig)
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(out.read_text())
    assert all("managedFields" not in o["metadata"] for o in doc["items"])
    assert ids(svcdoctor("diagnose", "--from", str(out), "-o", "json")) == ["some-endpoints-not-ready"]
    assert cp.mutating_requests(SA_USER) == []


def _limited_kubeconfig(cp, tmp_path, name: str, rules: list[dict]) -> Path:
    """A ServiceAccount with exactly these RBAC rules in namespace shop."""
    cp.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "shop"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": name, "namespace": "shop"}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": name, "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "shop"}]},
    ]))
    token = cp.create_token("shop", name, create_service_account=False)
    return cp.kubeconfig_for_token(token, tmp_path / f"{name}.kubeconfig")


def test_forbidden_reads_are_could_not_verify_never_missing(cp, ran, tmp_path):
    sc = ran("selector-typo")
    kc = _limited_kubeconfig(cp, tmp_path, "svc-only", [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}])
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", kubeconfig=kc)
    assert proc.returncode == 0, proc.stderr  # nothing proven wrong
    doc = json.loads(proc.stdout)
    assert ids(proc) == []  # no "matches no pods" claim without being allowed to list pods
    unknown = " ".join(f["explanation"] for f in doc["findings"] if f["id"] == "could-not-verify")
    for what in ("list pods in namespace shop", "list nodes", "list events in namespace shop",
                 "list endpointslices in namespace shop"):
        assert what in unknown and "403" in unknown


def test_service_itself_forbidden_is_one_line(cp, ran, tmp_path):
    sc = ran("selector-typo")
    kc = _limited_kubeconfig(cp, tmp_path, "nothing", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, kubeconfig=kc)
    assert proc.returncode == 4
    assert "not allowed to read Service shop/web-api" in one_line(proc)


def test_not_found_suggests_close_names(cp, ran):
    ran("selector-typo")
    proc = svcdoctor("diagnose", "svc/web-apj", "-n", "shop", kubeconfig=cp.kubeconfig)
    assert proc.returncode == 3 and "did you mean 'web-api'" in one_line(proc)
    proc = svcdoctor("diagnose", "svc/web", "-n", "shpo", kubeconfig=cp.kubeconfig)
    assert proc.returncode == 3 and "namespace 'shpo' not found; did you mean 'shop'" in one_line(proc)


# --- transport faults: real sockets, real TLS, a real fault-injecting proxy ----------------

def _kubeconfig(path: Path, server: str, *, ca: str | None = None, token: str | None = None,
                insecure: bool = False) -> Path:
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": cluster}],
        "users": [{"name": "t", "user": {"token": token} if token else {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))
    return path


def test_connection_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    kc = _kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{port}", insecure=True, token="x")
    t = time.monotonic()
    proc = svcdoctor("diagnose", "svc/web", "-n", "shop", kubeconfig=kc)
    assert proc.returncode == 4 and "connection refused" in one_line(proc)
    assert time.monotonic() - t < 30


def test_server_that_never_answers(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)  # accepts (kernel backlog) and never says a word
    try:
        kc = _kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{srv.getsockname()[1]}", insecure=True, token="x")
        proc = svcdoctor("diagnose", "svc/web", "-n", "shop", "--request-timeout", "2s", kubeconfig=kc)
        assert proc.returncode == 4 and "did not answer" in one_line(proc)
    finally:
        srv.close()


def test_untrusted_certificate(cp, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import datetime as dt

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "some-other-ca")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    ca = tmp_path / "other-ca.crt"
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kc = _kubeconfig(tmp_path / "kc", cp.server, ca=str(ca), token="x")
    proc = svcdoctor("diagnose", "svc/web", "-n", "shop", kubeconfig=kc)
    assert proc.returncode == 4 and "TLS verification" in one_line(proc)


def test_invalid_token_is_401(cp, tmp_path):
    kc = cp.kubeconfig_for_token("not-a-real-token", tmp_path / "kc")
    proc = svcdoctor("diagnose", "svc/web", "-n", "shop", kubeconfig=kc)
    assert proc.returncode == 4 and "401 Unauthorized" in one_line(proc)


class FaultProxy:
    """Plain-HTTP reverse proxy on loopback in front of the real apiserver (as admin).

    ``faults`` maps a status code to how many requests per path get it before the real
    answer passes through (None: every request). Set ``only`` to a path to fault that
    path alone."""

    def __init__(self, cp, status: int, times: int | None, retry_after: str | None = None):
        self.seen: list[tuple[str, int]] = []
        self.only: str | None = None
        ctx = ssl.create_default_context(cafile=str(cp.ca_cert))
        ctx.load_cert_chain(str(cp.admin_cert), str(cp.admin_key))
        upstream = cp.server.removeprefix("https://")
        counts: dict[str, int] = {}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = self.path.split("?")[0]
                counts[path] = counts.get(path, 0) + 1
                if (proxy.only is None or path == proxy.only) and (times is None or counts[path] <= times):
                    proxy.seen.append((path, status))
                    body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                       "message": "injected by the test proxy", "code": status}).encode()
                    self.send_response(status)
                    if retry_after:
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                import http.client
                conn = http.client.HTTPSConnection(upstream, context=ctx, timeout=10)
                conn.request("GET", self.path, headers={"Accept": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                proxy.seen.append((path, resp.status))
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_429_is_retried_then_succeeds(cp, ran, tmp_path):
    sc = ran("selector-typo")
    proxy = FaultProxy(cp, 429, times=1, retry_after="1")
    try:
        kc = _kubeconfig(tmp_path / "kc", proxy.url)
        proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", kubeconfig=kc)
        assert ids(proc) == ["selector-matches-no-pods"]
        assert sum(1 for _, s in proxy.seen if s == 429) >= 5  # every path was throttled once
    finally:
        proxy.close()


def test_persistent_500_fails_in_bounded_time(cp, tmp_path):
    proxy = FaultProxy(cp, 500, times=None)
    try:
        kc = _kubeconfig(tmp_path / "kc", proxy.url)
        t = time.monotonic()
        proc = svcdoctor("diagnose", "svc/web-api", "-n", "shop", kubeconfig=kc)
        assert proc.returncode == 4 and "answered 500" in one_line(proc)
        assert time.monotonic() - t < 30
    finally:
        proxy.close()


def test_in_cluster_service_account_config(cp, ran, reader_kubeconfig, tmp_path):
    """Inside a pod svcdoctor uses the mounted ServiceAccount. Reproduced for real: a private
    mount namespace (unshare) puts the token, CA and namespace files at the standard path."""
    import shutil as sh

    if sh.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private mount namespace")
    sc = ran("selector-typo")
    token = yaml.safe_load(Path(reader_kubeconfig).read_text())["users"][0]["user"]["token"]
    run = tmp_path / "run"
    sa = run / "secrets" / "kubernetes.io" / "serviceaccount"
    sa.mkdir(parents=True)
    (sa / "token").write_text(token)
    (sa / "ca.crt").write_bytes(Path(cp.ca_cert).read_bytes())
    (sa / "namespace").write_text(sc.namespace)  # default namespace: no -n given below
    port = cp.server.rsplit(":", 1)[1]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(HOME=str(tmp_path), KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=port,
               NO_COLOR="1")
    script = (f"mount --bind {run} /run && mount --bind {run} /var/run 2>/dev/null; "
              f"exec {cli()} diagnose svc/{sc.service} -o json")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, env=env, timeout=60)
    assert ids(proc) == ["selector-matches-no-pods"], proc.stderr
    assert json.loads(proc.stdout)["target"] == "shop/web-api"


def test_record_masks_credentials(cp, tmp_path):
    """Credentials in ordinary objects never reach a recording (svcdoctor never reads Secrets)."""
    cp.create_namespace("vault-demo")
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMtYWNjb3VudCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    cp.kubectl("apply", "-f", "-", input=scenarios.deployment(
        "api", "vault-demo", {"app": "api"}, replicas=1,
        extra_pod="""\
            imagePullSecrets: []
            """).replace("        readinessProbe:", "        env: [{name: DB_PASSWORD, value: hunter2-secret}, "
                         "{name: UPSTREAM, value: 'https://svc:s3cr3tpass@db.internal/x'}, "
                         "{name: LOG_LEVEL, value: debug}]\n        readinessProbe:"))
    cp.kubectl("apply", "-f", "-", input=scenarios.service("api", "vault-demo", {"app": "api"}))
    cp.kubectl("-n", "vault-demo", "annotate", "service", "api", "example.com/api-token=tok-abc123",
               "example.com/owner=team-a")
    cp.wait_until(lambda: any(scenarios.ready(p) for p in scenarios.pods(cp, "vault-demo")), timeout=60)
    pod = scenarios.pods(cp, "vault-demo")[0]["metadata"]["name"]
    scenarios.kubelet_event(cp, "vault-demo", pod, reason="Failed", count=1, span_s=1,
                            message=f"Failed to pull image: authorization Bearer {jwt} rejected")
    out = tmp_path / "rec.yaml"
    proc = svcdoctor("record", "svc/api", "-n", "vault-demo", "-o", str(out), "--no-probe",
                     kubeconfig=cp.kubeconfig)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    for secret in ("hunter2-secret", "s3cr3tpass", "tok-abc123", jwt, "last-applied-configuration"):
        assert secret not in text
    assert "<masked>" in text and "LOG_LEVEL" in text and "debug" in text and "team-a" in text
    assert "Failed to pull image: authorization Bearer <masked> rejected" in text
    assert ids(svcdoctor("diagnose", "--from", str(out), "-o", "json")) == []  # still replays


def test_not_found_suggestions_in_a_crowded_namespace(cp):
    """A mistyped Service or namespace among dozens: the one clearly closest name, the few
    about equally close, or none (never the first alphabetically)."""
    names = ["auth", "cart", "catalog", "chat", "checkout", "checkout-worker", "gateway", "inventory",
             "ledger", "media", "notifications", "order-history", "orders", "orders-worker", "payments",
             "payments-ui", "profile", "recommendations", "reviews", "search", "search-indexer",
             "shipping", "web-backend", "web-frontend", "wishlist"]
    cp.create_namespace("names")
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(
        scenarios.service(n, "names", {"app": n}) for n in names))

    def error(*args: str) -> str:
        proc = svcdoctor("diagnose", *args, "--no-probe", kubeconfig=cp.kubeconfig)
        assert proc.returncode == 3, proc.stderr
        return one_line(proc)

    assert error("svc/chekout", "-n", "names").endswith("not found in namespace 'names'; did you mean 'checkout'?")
    assert error("svc/paymnets", "-n", "names").endswith("did you mean 'payments'?")
    web = error("svc/web", "-n", "names")
    assert "'web-backend'" in web and "'web-frontend'" in web and "'wishlist'" not in web
    unknown = error("svc/loyalty", "-n", "names")
    assert "did you mean" not in unknown and "Services there: auth, cart" in unknown and "(and 15 more)" in unknown
    assert error("svc/checkout", "-n", "nmes").endswith("namespace 'nmes' not found; did you mean 'names'?")


# --- other policy APIs (cluster "policy-apis": network-policy-api CRDs, Cilium, Calico) ----------

def test_reader_reads_other_policy_apis_and_a_role_without_them_gets_could_not_verify(clusters, ran, tmp_path):
    sc = ran("netpol-other-policy-apis")
    plane = clusters("policy-apis")
    plane.kubectl("apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    token = plane.create_token("svcdoctor", "svcdoctor", create_service_account=False)
    kubeconfig = plane.kubeconfig_for_token(token, tmp_path / "kubeconfig")
    before = len(plane.audit_events(user=SA_USER))
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe",
                     kubeconfig=kubeconfig)
    assert proc.returncode == 0 and ids(proc) == []
    unverified = [f for f in json.loads(proc.stdout)["findings"] if f["id"] == "could-not-verify"]
    assert len(unverified) == 3 and "403" not in proc.stdout
    uris = [e["requestURI"].split("?")[0] for e in plane.audit_events(user=SA_USER)[before:]]
    assert "/apis" in uris and len(uris) <= budget(sc), uris
    assert {u for u in uris if u.startswith(("/apis/cilium.io", "/apis/crd.projectcalico.org", "/apis/policy."))} == {
        "/apis/cilium.io/v2/ciliumnetworkpolicies", "/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies",
        "/apis/crd.projectcalico.org/v1/networkpolicies", "/apis/crd.projectcalico.org/v1/globalnetworkpolicies",
        "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies",
        "/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies"}
    # A role that predates these kinds: each unreadable kind is could-not-verify, with the 403.
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "rbac.yaml").read_text()) if d]
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    role["metadata"]["name"] = "svcdoctor-old"
    role["rules"] = [r for r in role["rules"] if not set(r.get("apiGroups", [])) & {
        "cilium.io", "crd.projectcalico.org", "policy.networking.k8s.io"}]
    plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        role, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "old", "namespace": "svcdoctor"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "svcdoctor-old"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "svcdoctor-old"},
         "subjects": [{"kind": "ServiceAccount", "name": "old", "namespace": "svcdoctor"}]}]))
    old = plane.kubeconfig_for_token(plane.create_token("svcdoctor", "old", create_service_account=False),
                                     tmp_path / "old.kubeconfig")
    proc = svcdoctor("diagnose", f"svc/{sc.service}", "-n", sc.namespace, "-o", "json", "--no-probe", kubeconfig=old)
    assert proc.returncode == 0 and ids(proc) == []
    reasons = [f["facts"]["reason"] for f in json.loads(proc.stdout)["findings"] if f["id"] == "could-not-verify"]
    assert len(reasons) == 6 and all("403 Forbidden" in r for r in reasons), reasons
