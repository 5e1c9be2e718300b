"""The NetworkPolicy evaluator against the upstream conformance semantics.

The model is the kubernetes e2e ``netpol`` suite's (test/e2e/network/netpol): namespaces
x, y, z labelled ``ns: <name>``; pods a, b, c in each, labelled ``pod: <name>``, serving
80 and 81 over TCP, UDP and SCTP with named ports ``serve-80-tcp`` and so on. Each case
below is one of that suite's policies (or of network-policy-api's policy-assistant
cases), with the reachability the suite expects written out as which (source,
destination) pairs are denied — facts re-expressed as our own tests, not the suite's code.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcdoctor.netpol.evaluate import Endpoint, evaluate

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
ALL = tuple(f"{n}/{p}" for n in NAMESPACES for p in PODS)


def _ns(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"ns": name, "kubernetes.io/metadata.name": name}}}


def _pod(ns: str, name: str, i: int) -> dict:
    ports = [{"name": f"serve-{p}-{proto.lower()}", "containerPort": p, "protocol": proto}
             for p in (80, 81) for proto in ("TCP", "UDP", "SCTP")]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"pod": name}},
            "spec": {"containers": [{"name": f"cont-{name}", "image": "agnhost", "ports": ports}]},
            "status": {"phase": "Running", "podIP": f"10.244.{NAMESPACES.index(ns)}.{i + 10}"}}


NS = {n: _ns(n) for n in NAMESPACES}
POD = {f"{n}/{p}": _pod(n, p, i) for n in NAMESPACES for i, p in enumerate(PODS)}
IP = {k: v["status"]["podIP"] for k, v in POD.items()}


def ep(key: str) -> Endpoint:
    return Endpoint.of_pod(POD[key], NS[key.split("/")[0]])


def policy(ns: str, name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def sel(**labels: str) -> dict:
    return {"matchLabels": labels}


def expr(key: str, op: str, *values: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": op, **({"values": list(values)} if values else {})}]}


def to(*dsts: str, froms=ALL) -> set[tuple[str, str]]:
    """Every pair into the given destinations (from the given sources)."""
    return {(s, d) for s in froms for d in dsts}


def frm(*srcs: str, tos=ALL) -> set[tuple[str, str]]:
    return {(s, d) for s in srcs for d in tos}


X = tuple(k for k in ALL if k.startswith("x/"))
Y = tuple(k for k in ALL if k.startswith("y/"))
Z = tuple(k for k in ALL if k.startswith("z/"))


def but(keys, *keep: str) -> tuple[str, ...]:
    return tuple(k for k in keys if k not in keep)


# (name, policies, port, protocol, denied pairs)
CASES = [
    ("default-deny-ingress", [policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})],
     80, "TCP", to(*X)),
    ("default-deny-all", [policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})],
     80, "TCP", to(*X) | frm(*X)),
    ("allow-all", [policy("x", "allow", {"podSelector": {}, "ingress": [{}]})], 80, "TCP", set()),
    ("ingress from a pod in the server namespace (podSelector)",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [{"podSelector": sel(pod="b")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, "x/b"))),
    ("ingress from pods in all namespaces (namespaceSelector {})",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [{"namespaceSelector": {}}]}]})],
     80, "TCP", set()),
    ("ingress only from another namespace (namespaceSelector)",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [{"namespaceSelector": sel(ns="y")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, *Y))),
    ("podSelector with matchExpressions",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [{"podSelector": expr("pod", "In", "b")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, "x/b"))),
    ("namespaceSelector with matchExpressions",
     [policy("x", "p", {"podSelector": sel(pod="a"),
                        "ingress": [{"from": [{"namespaceSelector": expr("ns", "In", "y")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, *Y))),
    ("podSelector OR namespaceSelector (two peers)",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [
         {"namespaceSelector": expr("ns", "NotIn", "x")}, {"podSelector": expr("pod", "NotIn", "b")}]}]})],
     80, "TCP", to("x/a", froms=("x/b",))),
    ("podSelector AND namespaceSelector (one peer)",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [
         {"namespaceSelector": expr("ns", "NotIn", "x"), "podSelector": expr("pod", "In", "b", "c")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, "y/b", "y/c", "z/b", "z/c"))),
    ("any of several podSelectors",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [
         {"podSelector": sel(pod="b")}, {"podSelector": sel(pod="c")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, "x/b", "x/c"))),
    ("a pod in a different namespace, by podSelector and namespaceSelector",
     [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [
         {"namespaceSelector": sel(ns="y"), "podSelector": sel(pod="a")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, "y/a"))),
    ("ports: the allowed port", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": 81}]}]})],
     81, "TCP", to("x/a", froms=but(ALL, *Y))),
    ("ports: another port", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": 81}]}]})],
     80, "TCP", to("x/a")),
    ("stacked policies with overlapping podSelectors add up", [
        policy("x", "p80", {"podSelector": sel(pod="a"), "ingress": [
            {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": 80}]}]}),
        policy("x", "p81", {"podSelector": sel(pod="a"), "ingress": [
            {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": 81}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, *Y))),
    ("ingress on one named port: that port", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"port": "serve-81-tcp"}]}]})], 81, "TCP", set()),
    ("ingress on one named port: another port", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"port": "serve-81-tcp"}]}]})], 80, "TCP", to(*X)),
    ("ingress from a namespace on one named port", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": "serve-80-tcp"}]}]})],
     80, "TCP", to(*X, froms=but(ALL, *Y))),
    ("a named port of another protocol does not resolve", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"port": "serve-80-udp", "protocol": "TCP"}]}]})], 80, "TCP", to(*X)),
    ("egress on one named port", [policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"ports": [{"port": "serve-80-tcp"}]}]})], 80, "TCP", set()),
    ("egress on one named port: another port", [policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                                               "egress": [{"ports": [{"port": "serve-80-tcp"}]}]})],
     81, "TCP", frm(*X)),
    ("egress to a pod in another namespace (podSelector AND namespaceSelector)",
     [policy("x", "p", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"], "egress": [
         {"to": [{"namespaceSelector": sel(ns="y"), "podSelector": sel(pod="b")}]}]})],
     80, "TCP", frm("x/a", tos=but(ALL, "y/b"))),
    ("any port of one protocol: that protocol", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"protocol": "TCP"}]}]})], 81, "TCP", set()),
    ("any port of one protocol: another protocol", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"protocol": "TCP"}]}]})], 80, "UDP", to(*X)),
    ("allow-all ingress takes precedence over a narrower policy", [
        policy("x", "narrow", {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}]}),
        policy("x", "all", {"podSelector": {}, "ingress": [{}]})], 80, "TCP", set()),
    ("allow-all egress takes precedence over a narrower policy", [
        policy("x", "narrow", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 81}]}]}),
        policy("x", "all", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]})], 80, "TCP", set()),
    ("egress to a server in a CIDR block", [policy("x", "p", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"],
                                                         "egress": [{"to": [{"ipBlock": {"cidr": IP["y/b"] + "/32"}}]}]})],
     80, "TCP", frm("x/a", tos=but(ALL, "y/b"))),
    ("except clause in a CIDR block", [policy("x", "p", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"],
                                                     "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16",
                                                                                     "except": [IP["y/b"] + "/32"]}}]}]})],
     80, "TCP", frm("x/a", tos=("y/b",))),
    ("an IP in both a CIDR's except and another rule is allowed", [
        policy("x", "p", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"], "egress": [
            {"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [IP["y/b"] + "/32"]}}]},
            {"to": [{"ipBlock": {"cidr": IP["y/b"] + "/32"}}]}]})], 80, "TCP", set()),
    ("ingress and egress controlled independently", [
        policy("x", "in", {"podSelector": sel(pod="a"), "policyTypes": ["Ingress"], "ingress": [{}]}),
        policy("x", "out", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"]})],
     80, "TCP", frm("x/a")),
    ("only UDP allowed: TCP is not", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"ports": [{"protocol": "UDP", "port": 81}]}]})], 81, "TCP", to("x/a")),
    ("only UDP allowed: UDP is", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"ports": [{"protocol": "UDP", "port": 81}]}]})], 81, "UDP", set()),
    ("SCTP is not TCP", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"ports": [{"protocol": "SCTP", "port": 80}]}]})], 80, "TCP", to("x/a")),
    ("endPort: a range (inside)", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": 80, "endPort": 81}]}]})],
     81, "TCP", to("x/a", froms=but(ALL, *Y))),
    ("endPort: a range (outside)", [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"from": [{"namespaceSelector": sel(ns="y")}], "ports": [{"port": 82, "endPort": 90}]}]})],
     81, "TCP", to("x/a")),
    ("the client's egress denies even what the server allows", [
        policy("x", "out", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"]}),
        policy("y", "in", {"podSelector": sel(pod="b"), "ingress": [{}]})], 80, "TCP", frm("x/a")),
    ("policyTypes defaulted: egress rules make the policy an egress policy too", [
        policy("x", "p", {"podSelector": sel(pod="a"), "egress": [{"to": [{"podSelector": sel(pod="b")}]}]})],
     80, "TCP", to("x/a") | frm("x/a", tos=but(ALL, "x/b"))),
    ("a podSelector alone is the policy's own namespace", [
        policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [{"podSelector": sel(pod="c")}]}]})],
     80, "TCP", to("x/a", froms=but(ALL, "x/c"))),
    ("an empty peer list is every peer, an empty rule list is nothing", [
        policy("x", "p", {"podSelector": sel(pod="a"), "policyTypes": ["Ingress"], "ingress": []})],
     80, "TCP", to("x/a")),
    ("a policy in another namespace does not select these pods", [
        policy("y", "p", {"podSelector": sel(pod="a"), "policyTypes": ["Ingress"]})], 80, "TCP", to("y/a")),
]


def matrix(policies: list[dict], port: int, protocol: str) -> set[tuple[str, str]]:
    return {(s, d) for s, d in itertools.product(ALL, ALL)
            if not evaluate(policies, ep(s), ep(d), port, protocol).allowed}


@pytest.mark.parametrize("name,policies,port,protocol,denied", CASES, ids=[c[0] for c in CASES])
def test_conformance_truth_table(name, policies, port, protocol, denied):
    assert matrix(policies, port, protocol) == denied


def test_decisions_name_the_policy_and_rule():
    pols = [policy("x", "allow-y", {"podSelector": sel(pod="a"), "ingress": [
        {"from": [{"podSelector": sel(pod="b")}]}, {"from": [{"namespaceSelector": sel(ns="y")}]}]})]
    v = evaluate(pols, ep("y/c"), ep("x/a"), 80)
    assert v.allowed and [r.describe() for r in v.ingress.allowed_by] == ["NetworkPolicy x/allow-y ingress[1]"]
    v = evaluate(pols, ep("z/c"), ep("x/a"), 80)
    assert not v.allowed and [p["metadata"]["name"] for p in v.ingress.policies] == ["allow-y"]


def test_nodes_and_outside_clients_match_ip_blocks_only():
    pols = [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [
        {"from": [{"namespaceSelector": {}}]}, {"from": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}}]}]})]
    node = Endpoint(ip="192.0.2.10", what="node node-a")
    assert evaluate(pols, node, ep("x/a"), 80).allowed
    assert not evaluate(pols, Endpoint(ip="192.0.2.200", what="client"), ep("x/a"), 80).allowed
    assert not evaluate(pols, Endpoint(ip="198.51.100.7", what="client"), ep("x/a"), 80).allowed


def test_an_ip_block_matching_a_pod_is_flagged():
    pols = [policy("x", "p", {"podSelector": sel(pod="a"), "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16"}}]}]})]
    v = evaluate(pols, ep("y/b"), ep("x/a"), 80)
    assert v.allowed and v.ingress.ip_block_pod


# --- properties ---------------------------------------------------------------------------

label = st.sampled_from(["a", "b", "c"])
namespace = st.sampled_from(NAMESPACES)


@st.composite
def peers(draw):
    kind = draw(st.sampled_from(["pod", "ns", "both", "block"]))
    if kind == "block":
        return {"ipBlock": {"cidr": f"10.244.{draw(st.integers(0, 2))}.0/24"}}
    out = {}
    if kind in ("ns", "both"):
        out["namespaceSelector"] = sel(ns=draw(namespace))
    if kind in ("pod", "both"):
        out["podSelector"] = sel(pod=draw(label))
    return out


@st.composite
def policies(draw):
    out = []
    for i in range(draw(st.integers(0, 4))):
        rules = [{"from": draw(st.lists(peers(), max_size=2)),
                  **({"ports": [{"port": draw(st.sampled_from([80, 81]))}]} if draw(st.booleans()) else {})}
                 for _ in range(draw(st.integers(0, 2)))]
        out.append(policy(draw(namespace), f"p{i}", {"podSelector": draw(st.sampled_from([{}, sel(pod="a")])),
                                                     "policyTypes": ["Ingress"], "ingress": rules}))
    return out


@settings(max_examples=300, derandomize=True, deadline=None)
@given(pols=policies(), extra=peers(), s=st.sampled_from(ALL), d=st.sampled_from(ALL), port=st.sampled_from([80, 81]))
def test_adding_an_allow_rule_never_denies(pols, extra, s, d, port):
    before = evaluate(pols, ep(s), ep(d), port).allowed
    more = [{**p, "spec": {**p["spec"], "ingress": p["spec"]["ingress"] + [{"from": [extra]}]}} for p in pols]
    assert evaluate(more, ep(s), ep(d), port).allowed or not before


@settings(max_examples=300, derandomize=True, deadline=None)
@given(pols=policies(), s=st.sampled_from(ALL), d=st.sampled_from(ALL), port=st.sampled_from([80, 81]))
def test_unselected_pods_are_open_and_allow_all_opens(pols, s, d, port):
    v = evaluate(pols, ep(s), ep(d), port)
    if not v.ingress.policies:
        assert v.ingress.allowed
    dns = d.split("/")[0]
    opened = pols + [policy(dns, "allow-all", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]})]
    assert evaluate(opened, ep(s), ep(d), port).ingress.allowed


# --- the clients named on the command line, on recordings --------------------------------

import json as _json  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from helpers import cli  # noqa: E402

REC = Path(__file__).resolve().parents[1] / "svcdoctor" / "recordings"


def diagnose(recording: str, *args: str) -> tuple[int, dict | str]:
    proc = subprocess.run([cli(), "diagnose", "--from", str(REC / f"{recording}.yaml"), "-o", "json", *args],
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr
    return proc.returncode, (_json.loads(proc.stdout) if proc.returncode < 3 else proc.stderr.strip())


def ids(report: dict) -> list[str]:
    return sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify")


def test_recorded_client_replays():
    code, report = diagnose("netpol-client-egress")
    assert code == 2 and ids(report) == ["network-policy-blocks-egress"]
    (f,) = [f for f in report["findings"] if f["id"] == "network-policy-blocks-egress"]
    assert f["facts"]["policy"] == "egress-dns-only" and f["facts"]["port"] == 8080


def test_a_whole_namespace_as_client():
    """--client-namespace alone: any pod there, so only namespace-wide rules count: the
    namespace-wide egress policy holds it back, and backend admits only app=frontend."""
    code, report = diagnose("netpol-client-egress", "--client-namespace", "np-front")
    assert ids(report) == ["network-policy-blocks-client", "network-policy-blocks-egress"]
    (f,) = [f for f in report["findings"] if f["id"] == "network-policy-blocks-client"]
    assert _json.loads(f["facts"]["patch"])[0]["value"]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "np-front"}}}]
    code, report = diagnose("netpol-client-egress", "--client-namespace", "np-other")
    assert ids(report) == ["network-policy-blocks-client"]   # its egress is free; backend's ingress is not


def test_an_outside_range_as_client():
    code, report = diagnose("netpol-blocks-dns", "--client-cidr", "203.0.113.0/24")
    assert ids(report) == ["network-policy-blocks-dns"]   # worker admits every source: no ingress policy
    code, report = diagnose("netpol-blocks-nodes", "--client-cidr", "203.0.113.0/24")
    clients = [f["facts"]["client"] for f in report["findings"] if f["id"] == "network-policy-blocks-client"]
    assert clients[0] == "clients in 203.0.113.0/24 (e.g. 203.0.113.1)"


def test_a_client_pod_that_is_not_there_is_could_not_verify():
    code, report = diagnose("netpol-client-egress", "--client", "pod/ghost")
    assert ids(report) == []
    assert [f["subject"] for f in report["findings"] if f["id"] == "could-not-verify"] == ["client pod np-back/ghost"]


@pytest.mark.parametrize("args,message", [
    (["--client", "deploy/web"], "--client 'deploy/web': use pod/NAME"),
    (["--client", "pod/"], "--client 'pod/': use pod/NAME"),
    (["--client-cidr", "10.0.0.0/33"], "--client-cidr '10.0.0.0/33' is not an address range"),
    (["--client-namespace", "Bad_NS"], "'Bad_NS' is not a valid namespace name"),
])
def test_bad_client_options_are_one_line(args, message):
    code, err = diagnose("netpol-client-egress", *args)
    assert code == 3 and message in err and len(err.splitlines()) == 1, err


# --- the cluster DNS Service as the target -------------------------------------------------

def test_diagnosing_the_dns_service_names_the_namespaces_its_egress_leaves_out():
    """np-batch denies all egress, np-ledger admits 53 only to the kube-dns Service IP,
    np-web admits the DNS pods: the first two are named, with the Service-IP mistake."""
    code, report = diagnose("netpol-dns-target")
    assert code == 1 and ids(report) == ["network-policy-blocks-dns"]
    (f,) = report["findings"]
    assert f["facts"]["namespaces"] == ["np-batch", "np-ledger"]
    assert f["facts"]["excluded"][0] == "np-batch (NetworkPolicy deny-egress, every pod; 53/UDP and 53/TCP)"
    recorded = yaml.safe_load((REC / "netpol-dns-target.yaml").read_text())["items"]
    (svc,) = [o for o in recorded if o["kind"] == "Service" and o["metadata"]["name"] == "kube-dns"]
    assert f["facts"]["ip_rule"] == "np-ledger/egress-dns-by-service-ip egress[0]"
    assert f["facts"]["ip_rule_cidr"] == svc["spec"]["clusterIP"] + "/32"
    assert "policies see the DNS pods' addresses after kube-proxy's translation" in f["explanation"]


def _dns_pod() -> Endpoint:
    pod = {"metadata": {"name": "coredns-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
           "spec": {"containers": [{"name": "coredns", "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                                                {"name": "dns-tcp", "containerPort": 53}]}]},
           "status": {"podIP": "10.244.0.5"}}
    return Endpoint.of_pod(pod, _ns("kube-system"))


def _egress(ns: str, name: str, selector: dict, rules: list[dict]) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": selector, "policyTypes": ["Egress"], "egress": rules}}


DNS_RULE = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def test_dns_exclusion_in_a_crowded_cluster_names_only_the_decisive_policies():
    """40 namespaces with egress policies: most admit DNS in one of the usual ways (the DNS
    pods by label, a namespace-wide rule, port 53 to anywhere, a second policy that adds
    DNS for the same pods); three do not, and only those are named."""
    from svcdoctor.netpol.dns import excluded_namespaces

    policies = []
    for i in range(40):
        ns = f"team-{i:02d}"
        app = {"matchLabels": {"app": f"svc{i}"}}
        style = i % 4
        if style == 0:
            policies.append(_egress(ns, "egress", {}, [DNS_RULE, {"to": [{"podSelector": {}}]}]))
        elif style == 1:
            policies.append(_egress(ns, "egress", app, [{"to": [{"namespaceSelector": {}}]}]))
        elif style == 2:
            policies.append(_egress(ns, "egress", app, [{"ports": [{"port": 53, "protocol": "UDP"},
                                                                   {"port": 53, "protocol": "TCP"}]}]))
        else:   # deny-all egress, and a separate policy admitting DNS for every pod
            policies += [_egress(ns, "deny-all", {}, []), _egress(ns, "allow-dns", {}, [DNS_RULE])]
    policies += [_egress("team-07", "db-only", {"matchLabels": {"app": "batch"}},
                         [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]}]),
                 _egress("team-21", "udp-only", {}, [{"to": DNS_RULE["to"], "ports": [{"port": 53, "protocol": "UDP"}]}]),
                 _egress("team-33", "wrong-namespace", {}, [{"to": [{"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": "dns"}}}]}])]
    found = excluded_namespaces(policies, _dns_pod(), _ns)
    # team-07 already admits DNS for every pod through deny-all + allow-dns (style 3): not named
    assert [(e.namespace, e.policy["metadata"]["name"], e.blocked) for e in found] == [
        ("team-21", "udp-only", ["TCP"]), ("team-33", "wrong-namespace", ["UDP", "TCP"])]


def test_the_service_ip_mistake_is_named_only_for_a_single_address():
    from svcdoctor.netpol.dns import service_ip_rule

    to_ip = _egress("a", "dns-by-ip", {}, [{"to": [{"ipBlock": {"cidr": "10.96.0.10/32"}}], "ports": [{"port": 53, "protocol": "UDP"}]}])
    internet = _egress("b", "internet", {}, [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}])
    pods_cidr = _egress("c", "pod-cidr", {}, [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16"}}], "ports": [{"port": 53}]}])
    assert service_ip_rule([to_ip], ["10.244.0.5"])[1:] == (0, "10.96.0.10/32")
    assert service_ip_rule([internet], ["10.244.0.5"]) is None          # not about DNS at all
    assert service_ip_rule([pods_cidr], ["10.244.0.5"]) is None         # holds the DNS pod: it works
    wide = _egress("d", "svc-cidr", {}, [{"to": [{"ipBlock": {"cidr": "10.96.0.0/12"}}], "ports": [{"port": 53, "protocol": "UDP"}]}])
    assert service_ip_rule([wide], ["10.244.0.5"]) is None
    assert service_ip_rule([wide], ["10.244.0.5"], ["10.96.0.10"])[2] == "10.96.0.0/12"   # the Service range, known
