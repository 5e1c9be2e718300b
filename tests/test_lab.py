"""Tier 2: the network lab. A real control plane runs inside a network namespace the
test creates; kube-proxy's data plane is emulated from the API's own EndpointSlices;
firewalls are real iptables rules (DROP → timeout, REJECT icmp-host-prohibited → no route,
REJECT tcp-reset → refused); the installed CLI runs inside the namespace and probes."""

from __future__ import annotations

import json
import os

import pytest

import controlplane
import lab_scenarios
from helpers import cli
from netlab import NetLab

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="module")
def lab_cp():
    for ok, reason in (NetLab.available(), controlplane.ControlPlane.available()):
        if not ok:
            if IN_CI:
                pytest.fail(f"network lab unavailable under CI: {reason}")
            pytest.skip(f"network lab unavailable: {reason}")
    with NetLab() as lab, lab.inside(), controlplane.ControlPlane() as cp:
        lab_scenarios.prepare(lab, cp)
        yield lab, cp


def diagnose(lab, cp, sc) -> dict:
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "NO_COLOR": "1"}
    proc = lab.run([cli(), "diagnose", f"svc/{sc.svc_name}", "-n", sc.namespace, "-o", "json",
                    "--probe-timeout", lab_scenarios.PROBE_TIMEOUT], env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", [s.name for s in lab_scenarios.SCENARIOS])
def test_lab_scenario(lab_cp, name):
    lab, cp = lab_cp
    sc = lab_scenarios.BY_NAME[name]
    lab_scenarios.reset(lab)
    lab_scenarios.run(lab, cp, sc, lab_scenarios.SCENARIOS.index(sc))
    report = diagnose(lab, cp, sc)
    found = sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify")
    assert found == sorted(sc.expect), json.dumps(report["findings"], indent=1)[:3000]
    for f in report["findings"]:
        probes = [r for r in f["evidence"] if r["kind"] == "probe"]
        if f["check"].split(".")[0] in ("nodeports", "traffic_policy", "lb_reachability") \
                and f["id"] != "local-policy-single-node":
            # probe findings cite the target, the outcome and the latency
            assert probes and all({"target", "outcome", "latencyMs"} <= set(r) for r in probes), f
    assert not [f for f in report["findings"] if f["id"] == "could-not-verify" and "probe" in f["explanation"]]
    # a scan with --probe finds the same (latencies differ from run to run, the rest not)
    mine = next(s for s in scan(lab, cp, sc)["services"] if s["target"] == f"{sc.namespace}/{sc.svc_name}")
    same = lambda doc: [(f["id"], f["severity"], f["subject"], f["caused_by"]) for f in doc["findings"]]  # noqa: E731
    assert same(mine) == same(report)


def scan(lab, cp, sc) -> dict:
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "NO_COLOR": "1"}
    proc = lab.run([cli(), "scan", "-n", sc.namespace, "--probe", "-o", "json", "--no-progress",
                    "--probe-timeout", lab_scenarios.PROBE_TIMEOUT], env=env)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1, 2), proc.stderr
    return json.loads(proc.stdout)


def test_consequences_link_to_their_root(lab_cp):
    lab, cp = lab_cp
    sc = lab_scenarios.BY_NAME["lab-lb-source-ranges"]
    lab_scenarios.reset(lab)
    lab_scenarios.run(lab, cp, sc, lab_scenarios.SCENARIOS.index(sc))
    findings = diagnose(lab, cp, sc)["findings"]
    assert [(f["id"], f["caused_by"]) for f in findings[:2]] == [
        ("lb-source-ranges-exclude-client", None), ("lb-unreachable", "lb-source-ranges-exclude-client")]
    assert findings[0]["facts"]["client"] == "127.0.0.1"


def test_name_mismatch_is_explained(lab_cp):
    lab, cp = lab_cp
    sc = lab_scenarios.BY_NAME["lab-local-name-mismatch"]
    lab_scenarios.reset(lab)
    lab_scenarios.run(lab, cp, sc, lab_scenarios.SCENARIOS.index(sc))
    (f,) = [f for f in diagnose(lab, cp, sc)["findings"] if f["id"] == "local-policy-all-nodes-unhealthy"]
    assert f["facts"]["name_mismatch_nodes"] == ["node-1", "node-2"]
    assert "hostname-override" in f["explanation"]


def test_no_probe_and_node_cap(lab_cp):
    lab, cp = lab_cp
    sc = lab_scenarios.BY_NAME["lab-nodeport-firewall-all"]
    lab_scenarios.reset(lab)
    lab_scenarios.run(lab, cp, sc, lab_scenarios.SCENARIOS.index(sc))
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
    base = [cli(), "diagnose", f"svc/{sc.svc_name}", "-n", sc.namespace, "-o", "json", "--probe-timeout", "1s"]
    off = json.loads(lab.run(base + ["--no-probe"], env=env).stdout)
    assert [f["id"] for f in off["findings"]] == ["could-not-verify"]
    capped = json.loads(lab.run(base + ["--max-nodes", "1"], env=env).stdout)
    (blocked,) = [f for f in capped["findings"] if f["id"] == "nodeport-blocked"]
    # the cap still includes every node that holds an endpoint (node-1 and node-2)
    assert blocked["facts"]["probed"] == 2


# --- the L7 hop: an Ingress controller's and a Gateway's data plane in the lab -----------

L7_NS = "lab-l7"


@pytest.fixture(scope="module")
def l7_lab(lab_cp):
    """ingress-nginx (its pod, IngressClass nginx) and Envoy Gateway (class eg, Gateway
    public) played by the test; their data planes answer on 127.0.0.40 and 127.0.0.41 as
    the controllers would (netlab_servers "ingress": by Host header)."""
    import gateway_api
    import l7_scenarios as l7
    from scenarios import deployment, service

    lab, cp = lab_cp
    gateway_api.install(cp)
    for ns in (L7_NS, "ingress-nginx", "infra", "envoy-gateway-system"):
        cp.create_namespace(ns)
    cp.kubectl("apply", "-f", "-", input=l7.CONTROLLERS)
    l7.patch_status(cp, "", "gatewayclass", "eg", {"conditions": [l7.cond("Accepted", "True", "Accepted", "Valid GatewayClass")]})
    cp.kubectl("apply", "-f", "-", input="\n---\n".join([
        json.dumps({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": {"name": "lab", "namespace": "infra"},
                    "spec": {"gatewayClassName": "eg", "listeners": [
                        {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]}}),
        *[m for name in ("web", "cart", "shop", "orders", "vault") for m in (
            deployment(name, L7_NS, {"app": name}, replicas=1), service(name, L7_NS, {"app": name}))],
        l7.ingress("web", L7_NS, [("web.lab.example", "/", "web", "http")]),
        l7.ingress("cart", L7_NS, [("cart.lab.example", "/", "cart", 8443)]),
        l7.ingress("shop", L7_NS, [("shop.lab.example", "/", "shop", "http")]),
        json.dumps({**json.loads(l7.ingress("secure", L7_NS, [("secure.lab.example", "/", "vault", "http")])),
                    "spec": {**json.loads(l7.ingress("secure", L7_NS, [("secure.lab.example", "/", "vault", "http")]))["spec"],
                             "tls": [{"hosts": ["secure.lab.example"], "secretName": "secure-tls"}]}}),
        l7.httproute("orders", L7_NS, ("infra", "lab"), ["orders.lab.example"],
                     [("/", [{"name": "ordres", "port": 80}])]),
    ]))
    l7.patch_status(cp, "infra", "gateway", "lab", {
        "addresses": [{"type": "IPAddress", "value": "127.0.0.41"}],
        "conditions": [l7.cond("Accepted", "True", "Accepted", "The Gateway has been scheduled by Envoy Gateway"),
                       l7.cond("Programmed", "True", "Programmed", "Address assigned to the Gateway, 1/1 envoy replicas available")]})
    l7.route_accepted(cp, L7_NS, "orders", "infra", "lab",
                      resolved=("False", "BackendNotFound", f"Service {L7_NS}/ordres not found"))
    for name in ("web", "cart", "shop", "secure"):
        l7.ingress_address(cp, L7_NS, name, "127.0.0.40")
    cp.wait_until(lambda: len(json.loads(cp.kubectl("-n", L7_NS, "get", "pods", "-o", "json").stdout)["items"]) == 5,
                  timeout=60, what="lab-l7 pods")
    lab_scenarios.reset(lab)
    # what the proxies answer: cart's upstream is empty (503); shop's rule is configured in
    # the objects, yet the proxy has no route for it (404: the objects do not explain it)
    lab.ingress("127.0.0.40", {"web.lab.example": 200, "cart.lab.example": 503})
    lab.ingress("127.0.0.41", {"orders.lab.example": 500}, server="envoy")
    # on 443 the proxy has no certificate for secure.lab.example: it rejects the handshake
    lab.ingress("127.0.0.40", {}, port=443, reject_tls=True)
    return lab, cp


def l7_diagnose(lab, cp, *target: str) -> tuple[int, dict]:
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "NO_COLOR": "1"}
    proc = lab.run([cli(), "diagnose", *target, "-o", "json", "--probe-timeout", lab_scenarios.PROBE_TIMEOUT], env=env)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1, 2), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _l7_probes(report: dict) -> list[dict]:
    return [r for f in report["findings"] for r in f["evidence"] if r["kind"] == "probe" and r.get("purpose") == "l7"]


def test_l7_probe_confirms_the_wrong_ingress_port(l7_lab):
    lab, cp = l7_lab
    code, report = l7_diagnose(lab, cp, "svc/cart", "-n", L7_NS)
    assert code == 2
    (f,) = [f for f in report["findings"] if f["id"] == "ingress-backend-port-not-found"]
    (probe,) = [r for r in f["evidence"] if r["kind"] == "probe"]
    # the Ingress status address with the rule's Host header, never the host name itself
    assert probe["target"] == "http://127.0.0.40:80/" and probe["detail"]["hostHeader"] == "cart.lab.example"
    assert probe["detail"]["status"] == 503 and "Service Temporarily Unavailable" in probe["detail"]["body"]
    assert "Ingress lab-l7/cart: as the findings predict" in report["probes"]


def test_l7_probe_healthy_ingress_is_served(l7_lab):
    lab, cp = l7_lab
    code, report = l7_diagnose(lab, cp, "svc/web", "-n", L7_NS)
    assert code == 0 and [f["id"] for f in report["findings"] if f["id"] != "could-not-verify"] == []
    assert report["probes"].startswith("1 probes: 1 Ingress/Gateway (1 HTTP 200)")
    assert report["service"]["reachedThrough"] == ["Ingress lab-l7/web (web.lab.example / (Prefix)) → port http"]


def test_l7_probe_failure_the_objects_do_not_explain(l7_lab):
    lab, cp = l7_lab
    code, report = l7_diagnose(lab, cp, "svc/shop", "-n", L7_NS)
    assert code == 0  # the objects are right; the proxy's own state is not
    assert "1 HTTP 404" in report["probes"]
    assert "Ingress lab-l7/shop: fails, and nothing in the objects explains it" in report["probes"]


def test_l7_gateway_answers_500_for_the_missing_backend(l7_lab):
    lab, cp = l7_lab
    code, report = l7_diagnose(lab, cp, "svc/orders", "-n", L7_NS)
    assert code == 2
    (f,) = [f for f in report["findings"] if f["id"] == "route-backend-not-found"]
    assert f["facts"]["closest"] == "orders"
    (probe,) = [r for r in f["evidence"] if r["kind"] == "probe"]
    assert probe["target"] == "http://127.0.0.41:80/" and probe["detail"]["status"] == 500
    assert probe["detail"]["server"] == "envoy"


def test_l7_url_target_probes_the_ingress_address_only(l7_lab):
    """diagnose http://cart.lab.example/: the rules are found in the cluster and the probe
    goes to the Ingress status address; the typed host (no DNS record in the lab) is
    never resolved or dialed."""
    lab, cp = l7_lab
    code, report = l7_diagnose(lab, cp, "http://cart.lab.example/checkout")
    assert code == 2 and report["service"]["type"] == "URL"
    assert [f["id"] for f in report["findings"] if f["id"] != "could-not-verify"] == ["ingress-backend-port-not-found"]
    assert [p["target"] for p in _l7_probes(report)] == ["http://127.0.0.40:80/"]
    assert [b["target"] for b in report["backends"]] == [f"{L7_NS}/cart"]


def test_l7_probe_tls_handshake_failure(l7_lab):
    """An Ingress with TLS for its host is probed over HTTPS with SNI; a listener that does
    not speak TLS there is a handshake failure, not an HTTP answer."""
    lab, cp = l7_lab
    code, report = l7_diagnose(lab, cp, "ingress/secure", "-n", L7_NS)
    assert "1 Ingress/Gateway (1 tls-error)" in report["probes"]
    assert f"Ingress {L7_NS}/secure: fails, and nothing in the objects explains it" in report["probes"]
    assert [b["target"] for b in report["backends"]] == [f"{L7_NS}/vault"]
    assert code == 0  # the objects are right: the proxy is what fails
