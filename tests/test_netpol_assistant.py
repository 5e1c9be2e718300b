"""NetworkPolicy v1 truth tables re-expressed from kubernetes-sigs/network-policy-api's
policy-assistant (cmd/policy-assistant, derived from Cyclonus): facts only, our own code.

Sources: pkg/matcher/{policy,builder,simplifier}_tests.go, the v1 cases of
test/integration/integration_test.go, and the generator's cases (pkg/generator/
{target,peers,service}cases.go). The generator's rules, port/protocol, conflict and namespace
cases, and the base policy they all mutate, are not in our copy of policy-assistant; they are
read from Cyclonus's pkg/generator, which policy-assistant's generator is derived from (the
case counts its testcasegenerator_tests.go expects match: rules 4, conflicts 16, namespaces 2).

Upstream computes the generator's expectations with its simulator. Ours are derived by hand
from the API semantics for a fixed topology: namespaces x, y, z (labels ns=<name> and
kubernetes.io/metadata.name=<name>), pods a, b, c in each (label pod=<name>) serving 80 and
81 over TCP, UDP and SCTP as serve-<port>-<proto>, on two nodes; plus three sources that are
not pods (the two nodes, as after SNAT, and an outside client). An expectation lists, per
isolated pod and direction, the peers admitted on which probes ("grants"); a pod with no
entry is not isolated in that direction. Every (source, destination, probe) cell is compared
for ingress and egress separately, as policy-assistant's tables are. A pod to itself is left
out: policy-assistant leaves loopback undefined.
"""

from __future__ import annotations

import pytest

from svcdoctor.netpol.evaluate import Endpoint, evaluate

Obj = dict
Grant = tuple[frozenset[str], frozenset[str]]   # (admitted peers, probes)
Expect = dict[str, list[Grant]]                  # isolated pod -> what it admits

NAMESPACES = ("x", "y", "z")
# Pods spread over two nodes, a /24 of pod addresses each, so that the generator's ipBlock
# peers (a /24 and a /28 around z/c's address) split the pods.
PLACEMENT = {
    "x/a": ("node-1", "10.244.1.5"), "x/b": ("node-2", "10.244.2.5"), "x/c": ("node-1", "10.244.1.20"),
    "y/a": ("node-2", "10.244.2.6"), "y/b": ("node-1", "10.244.1.6"), "y/c": ("node-2", "10.244.2.21"),
    "z/a": ("node-1", "10.244.1.21"), "z/b": ("node-2", "10.244.2.7"), "z/c": ("node-1", "10.244.1.7"),
}
EXTERNAL = {"node-1": "192.168.0.1", "node-2": "192.168.0.2", "client": "203.0.113.7"}
PROBES = ("80/TCP", "81/TCP", "80/UDP", "81/UDP", "80/SCTP", "81/SCTP")
SERVED = [(f"serve-{p}-{proto.lower()}", p, proto) for p in (80, 81) for proto in ("TCP", "UDP", "SCTP")]


def ns_obj(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"ns": name, "kubernetes.io/metadata.name": name}}}


def pod(ns: str, name: str, ip: str, node: str = "node-1", labels: dict[str, str] | None = None,
        ports: list[tuple[str, int, str]] | None = None) -> Obj:
    declared = [{"name": n, "containerPort": p, "protocol": proto}
                for n, p, proto in (SERVED if ports is None else ports)]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"pod": name} if labels is None else labels},
            "spec": {"nodeName": node, "containers": [{"name": "cont", "image": "agnhost", "ports": declared}]},
            "status": {"phase": "Running", "podIP": ip}}


NS = {n: ns_obj(n) for n in NAMESPACES}
POD = {k: pod(*k.split("/"), ip, node) for k, (node, ip) in PLACEMENT.items()}
PODS = tuple(POD)
SOURCES = PODS + tuple(EXTERNAL)


def at(p: Obj) -> Endpoint:
    return Endpoint.of_pod(p, NS[p["metadata"]["namespace"]])


def addr(ip: str) -> Endpoint:
    return Endpoint(ip=ip, what=f"client {ip}")


EP = {**{k: at(p) for k, p in POD.items()}, **{k: Endpoint(ip=ip, what=k) for k, ip in EXTERNAL.items()}}


def sel(**labels: str) -> Obj:
    return {"matchLabels": labels}


def expr(key: str, op: str, *values: str) -> Obj:
    return {"matchExpressions": [{"key": key, "operator": op, **({"values": list(values)} if values else {})}]}


def policy(ns: str, name: str, spec: Obj) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def np(ns: str, name: str, selector: Obj, ingress: list[Obj] | None = None,
       egress: list[Obj] | None = None) -> Obj:
    """As the generator writes them: a direction is in policyTypes iff its rules are given ([] denies)."""
    spec: Obj = {"podSelector": selector,
                 "policyTypes": [t for t, r in (("Ingress", ingress), ("Egress", egress)) if r is not None]}
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return policy(ns, name, spec)


# --- the generator's base policy ---------------------------------------------------------

TCP80 = [{"port": 80, "protocol": "TCP"}]
DNS = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
BASE_FROM = [{"podSelector": expr("pod", "In", "b", "c"), "namespaceSelector": expr("ns", "In", "x", "y")}]
BASE_TO = [{"podSelector": expr("pod", "In", "a", "b"), "namespaceSelector": expr("ns", "In", "y", "z")}]


def gen(ns: str = "x", target: Obj | None = None, *, in_peers: list[Obj] | None = None,
        out_peers: list[Obj] | None = None, in_ports: list[Obj] | None = None, out_ports: list[Obj] | None = None,
        in_rules: list[Obj] | None = None, out_rules: list[Obj] | None = None) -> Obj:
    """The base policy (x, pod=a; ingress 80/TCP from pod in (b, c) AND ns in (x, y); egress
    80/TCP to pod in (a, b) AND ns in (y, z), plus DNS) with the named part replaced."""
    ing = [{"ports": TCP80 if in_ports is None else in_ports, "from": BASE_FROM if in_peers is None else in_peers}]
    eg = [{"ports": TCP80 if out_ports is None else out_ports, "to": BASE_TO if out_peers is None else out_peers}, DNS]
    return np(ns, "base", sel(pod="a") if target is None else target,
              ing if in_rules is None else in_rules, eg if out_rules is None else out_rules)


def P(keys: str) -> frozenset[str]:
    return frozenset(keys.split())


def on(*probes: str) -> frozenset[str]:
    return frozenset(probes)


ANY, NONE, T80 = frozenset(PROBES), frozenset(), on("80/TCP")
X, Z = P("x/a x/b x/c"), P("z/a z/b z/c")
PODS9 = frozenset(PODS)
EVERYONE = PODS9 | frozenset(EXTERNAL)
FROM_BC_XY = P("x/b x/c y/b y/c")   # the base ingress peer: pod in (b, c) AND ns in (x, y)
TO_AB_YZ = P("y/a y/b z/a z/b")   # the base egress peer: pod in (a, b) AND ns in (y, z)
BASE_IN: Expect = {"x/a": [(FROM_BC_XY, T80)]}
BASE_OUT: Expect = {"x/a": [(TO_AB_YZ, T80)]}

CASES: list[tuple[str, list[Obj], Expect, Expect]] = []


def case(name: str, policies: list[Obj], ing: Expect | None = None, eg: Expect | None = None) -> None:
    CASES.append((name, policies, ing or {}, eg or {}))


G = "policy-assistant generator"

# --- targetcases.go: the policy's namespace and podSelector ------------------------------
case(f"{G} targetcases: set namespace to x", [gen("x")], BASE_IN, BASE_OUT)
# the peers carry namespaceSelectors, so moving the policy moves only its target
case(f"{G} targetcases: set namespace to y", [gen("y")], {"y/a": [(FROM_BC_XY, T80)]}, {"y/a": [(TO_AB_YZ, T80)]})
case(f"{G} targetcases: set namespace to z", [gen("z")], {"z/a": [(FROM_BC_XY, T80)]}, {"z/a": [(TO_AB_YZ, T80)]})
case(f"{G} targetcases: set pod selector to {{}}", [gen(target={})],
     {"x/a": [(FROM_BC_XY, T80)], "x/b": [(FROM_BC_XY, T80)], "x/c": [(FROM_BC_XY, T80)]},
     {"x/a": [(TO_AB_YZ, T80)], "x/b": [(TO_AB_YZ, T80)], "x/c": [(TO_AB_YZ, T80)]})
case(f"{G} targetcases: set pod selector to pod In (a, b)", [gen(target=expr("pod", "In", "a", "b"))],
     {"x/a": [(FROM_BC_XY, T80)], "x/b": [(FROM_BC_XY, T80)]}, {"x/a": [(TO_AB_YZ, T80)], "x/b": [(TO_AB_YZ, T80)]})

# --- rulescases (Cyclonus copy): DenyAllRules = [], AllowAllRules = [{}] ------------------
case(f"{G} rulescases: ingress deny-all", [gen(in_rules=[])], {"x/a": []}, BASE_OUT)
case(f"{G} rulescases: ingress allow-all", [gen(in_rules=[{}])], {"x/a": [(EVERYONE, ANY)]}, BASE_OUT)
case(f"{G} rulescases: egress deny-all (DNS rule gone too)", [gen(out_rules=[])], BASE_IN, {"x/a": []})
case(f"{G} rulescases: egress allow-all", [gen(out_rules=[{}])], BASE_IN, {"x/a": [(EVERYONE, ANY)]})

# --- peerscases.go: rule 0's peers replaced (its ports stay 80/TCP) ------------------------
BLOCK = {"ipBlock": {"cidr": "10.244.1.0/24"}}                                      # z/c's address, 8 bits zeroed
BLOCK_EXCEPT = {"ipBlock": {"cidr": "10.244.1.0/24", "except": ["10.244.1.0/28"]}}  # ... except its 4-bit /28
PEERS = [  # (upstream description, peer, the pods it admits for a policy in x)
    ("empty pods + nil ns", {"podSelector": {}}, X),
    ("pods by label + nil ns", {"podSelector": sel(pod="c")}, P("x/c")),
    ("nil pods + empty ns", {"namespaceSelector": {}}, PODS9),
    ("empty pods + empty ns", {"podSelector": {}, "namespaceSelector": {}}, PODS9),
    ("pods by label + empty ns", {"podSelector": sel(pod="c"), "namespaceSelector": {}}, P("x/c y/c z/c")),
    ("nil pods + ns by label", {"namespaceSelector": sel(ns="x")}, X),
    ("empty pods + ns by label", {"podSelector": {}, "namespaceSelector": sel(ns="x")}, X),
    ("pods by label + ns by label", {"podSelector": sel(pod="c"), "namespaceSelector": sel(ns="x")}, P("x/c")),
    ("simple ipblock", BLOCK, P("x/a x/c y/b z/a z/c")),  # node-1's pods; nodes and client are outside
    ("ipblock with except", BLOCK_EXCEPT, P("x/c z/a")),  # .20, .21: the rest of node-1's are in .0-.15
]
PEER = {desc: peer for desc, peer, _ in PEERS}

case(f"{G} peerscases: ingress: empty peers", [gen(in_peers=[])], {"x/a": [(EVERYONE, T80)]}, BASE_OUT)
case(f"{G} peerscases: egress: empty peers", [gen(out_peers=[])], BASE_IN, {"x/a": [(EVERYONE, T80)]})
for _desc, _peer, _admitted in PEERS:
    case(f"{G} peerscases: ingress single peer: {_desc}", [gen(in_peers=[_peer])],
         {"x/a": [(_admitted, T80)]}, BASE_OUT)
    case(f"{G} peerscases: egress single peer: {_desc}", [gen(out_peers=[_peer])], BASE_IN, {"x/a": [(_admitted, T80)]})
# two peers in one rule are OR-ed
case(f"{G} peerscases: ingress, 2-peer: pods by label + nil ns, nil pods + ns by label",
     [gen(in_peers=[PEER["pods by label + nil ns"], PEER["nil pods + ns by label"]])], {"x/a": [(X, T80)]}, BASE_OUT)
case(f"{G} peerscases: ingress, 2-peer: empty pods + nil ns, pods by label + empty ns",
     [gen(in_peers=[PEER["empty pods + nil ns"], PEER["pods by label + empty ns"]])],
     {"x/a": [(P("x/a x/b x/c y/c z/c"), T80)]}, BASE_OUT)
case(f"{G} peerscases: ingress, 2-peer: pods by label + empty ns, ipblock with except",
     [gen(in_peers=[PEER["pods by label + empty ns"], BLOCK_EXCEPT])], {"x/a": [(P("x/c y/c z/c z/a"), T80)]}, BASE_OUT)
case(f"{G} peerscases: egress, 2-peer: pods by label + ns by label, simple ipblock",
     [gen(out_peers=[PEER["pods by label + ns by label"], BLOCK])], BASE_IN, {"x/a": [(P("x/a x/c y/b z/a z/c"), T80)]})
case(f"{G} peerscases: egress, 2-peer: simple ipblock, ipblock with except",
     [gen(out_peers=[BLOCK, BLOCK_EXCEPT])], BASE_IN, {"x/a": [(P("x/a x/c y/b z/a z/c"), T80)]})

# --- portprotocolcases (Cyclonus copy; end-port ranges over constants.go's port79..port82) ---
PORTS = [  # (description, rule 0's ports, the probes they open; the peers stay the base ones)
    ("empty port slice", [], ANY),
    ("nil protocol, nil port (TCP, every port)", [{}], on("80/TCP", "81/TCP")),
    ("TCP, nil port", [{"protocol": "TCP"}], on("80/TCP", "81/TCP")),
    ("UDP, nil port", [{"protocol": "UDP"}], on("80/UDP", "81/UDP")),
    ("SCTP, nil port", [{"protocol": "SCTP"}], on("80/SCTP", "81/SCTP")),
    ("nil protocol, port 80", [{"port": 80}], on("80/TCP")),
    ("nil protocol, port 81", [{"port": 81}], on("81/TCP")),
    ("UDP, port 80", [{"protocol": "UDP", "port": 80}], on("80/UDP")),
    ("SCTP, port 81", [{"protocol": "SCTP", "port": 81}], on("81/SCTP")),
    ("TCP, named port serve-80-tcp", [{"protocol": "TCP", "port": "serve-80-tcp"}], on("80/TCP")),
    ("UDP, named port serve-81-udp", [{"protocol": "UDP", "port": "serve-81-udp"}], on("81/UDP")),
    ("SCTP, named port serve-80-sctp", [{"protocol": "SCTP", "port": "serve-80-sctp"}], on("80/SCTP")),
    ("nil protocol, named port serve-81-tcp", [{"port": "serve-81-tcp"}], on("81/TCP")),
    ("pathological: a named port that doesn't match its protocol",
     [{"protocol": "TCP", "port": "serve-81-udp"}], NONE),
    ("pathological: a named port that isn't served", [{"protocol": "TCP", "port": "serve-7981-udp"}], NONE),
    ("pathological: a numbered port that isn't served", [{"protocol": "TCP", "port": 7981}], NONE),
    ("2 ports: UDP 80, SCTP serve-81-sctp", [{"protocol": "UDP", "port": 80},
                                             {"protocol": "SCTP", "port": "serve-81-sctp"}], on("80/UDP", "81/SCTP")),
    ("2 ports: TCP 81, UDP nil port", [{"protocol": "TCP", "port": 81}, {"protocol": "UDP"}],
     on("81/TCP", "80/UDP", "81/UDP")),
    ("end-port: TCP 80-81", [{"protocol": "TCP", "port": 80, "endPort": 81}], on("80/TCP", "81/TCP")),
    ("end-port: TCP 81-82", [{"protocol": "TCP", "port": 81, "endPort": 82}], on("81/TCP")),
    ("end-port: UDP 79-80", [{"protocol": "UDP", "port": 79, "endPort": 80}], on("80/UDP")),
    ("end-port: SCTP 79-82", [{"protocol": "SCTP", "port": 79, "endPort": 82}], on("80/SCTP", "81/SCTP")),
]
for _desc, _ports, _opens in PORTS:
    case(f"{G} portprotocolcases: ingress: {_desc}", [gen(in_ports=_ports)], {"x/a": [(FROM_BC_XY, _opens)]}, BASE_OUT)
    case(f"{G} portprotocolcases: egress: {_desc}", [gen(out_ports=_ports)], BASE_IN, {"x/a": [(TO_AB_YZ, _opens)]})

# --- namespacecases (Cyclonus copy): the automatic kubernetes.io/metadata.name label -------
DEFAULT_LABEL_Z = {"namespaceSelector": sel(**{"kubernetes.io/metadata.name": "z"})}
case(f"{G} namespacecases: ingress: select namespace by default label",
     [gen(in_peers=[DEFAULT_LABEL_Z])], {"x/a": [(Z, T80)]}, BASE_OUT)
case(f"{G} namespacecases: egress: select namespace by default label",
     [gen(out_peers=[DEFAULT_LABEL_Z])], BASE_IN, {"x/a": [(Z, T80)]})


# --- conflictcases (Cyclonus copy): source x/b, destination y/c, allow-dns on -------------
def xb(name: str, **rules: list[Obj]) -> Obj:
    return np("x", name, sel(pod="b"), **rules)


def yc(name: str, **rules: list[Obj]) -> Obj:
    return np("y", name, sel(pod="c"), **rules)


DNS_XB = xb("allow-dns", egress=[DNS])  # added whenever a case has egress: opens 53 only
ALL_PODS = {"namespaceSelector": {}}
ALL_IPS = {"ipBlock": {"cidr": "0.0.0.0/0"}}      # every address, pods' included
NO_IPS = {"ipBlock": {"cidr": "0.0.0.0/31"}}      # 0.0.0.0-0.0.0.1: nobody
NO_PODS = {"namespaceSelector": sel(**{"this-will-never-happen": "qrs123"})}
C = f"{G} conflictcases: allow/deny conflict"
case(f"{C} 1: allow-all ingress on y/c, deny-all egress on x/b",
     [xb("deny-all-egress", egress=[]), yc("allow-all-ingress", ingress=[{}]), DNS_XB],
     {"y/c": [(EVERYONE, ANY)]}, {"x/b": []})
case(f"{C} 2: allow-all egress on x/b, deny-all ingress on y/c",
     [xb("allow-all-egress", egress=[{}]), yc("deny-all-ingress", ingress=[]), DNS_XB],
     {"y/c": []}, {"x/b": [(EVERYONE, ANY)]})
case(f"{C} 3: deny-all + allow-all egress", [xb("deny-all-egress", egress=[]), xb("allow-all-egress", egress=[{}]),
                                            DNS_XB], {}, {"x/b": [(EVERYONE, ANY)]})
case(f"{C} 4: deny-all + allow-all ingress",
     [yc("deny-all-ingress", ingress=[]), yc("allow-all-ingress", ingress=[{}])], {"y/c": [(EVERYONE, ANY)]})
case(f"{C} 5: deny-all egress + allow all pods", [xb("deny-all-egress", egress=[]),
                                                 xb("by-pod", egress=[{"to": [ALL_PODS]}]), DNS_XB],
     {}, {"x/b": [(PODS9, ANY)]})
case(f"{C} 6: deny-all egress + allow all IPs", [xb("deny-all-egress", egress=[]),
                                                xb("by-ip", egress=[{"to": [ALL_IPS]}]), DNS_XB],
     {}, {"x/b": [(EVERYONE, ANY)]})
case(f"{C} 7: egress to no IPs + to all pods", [xb("no-ip", egress=[{"to": [NO_IPS]}]),
                                               xb("by-pod", egress=[{"to": [ALL_PODS]}]), DNS_XB],
     {}, {"x/b": [(PODS9, ANY)]})
case(f"{C} 8: egress to no pods + to all IPs", [xb("no-pod", egress=[{"to": [NO_PODS]}]),
                                               xb("by-ip", egress=[{"to": [ALL_IPS]}]), DNS_XB],
     {}, {"x/b": [(EVERYONE, ANY)]})
# the ingress conflicts target the source pod, x/b, as upstream's do
case(f"{C} 9: deny-all ingress + from all pods (not the nodes, not the client)",
     [xb("deny-all-ingress", ingress=[]), xb("by-pod", ingress=[{"from": [ALL_PODS]}])], {"x/b": [(PODS9, ANY)]})
case(f"{C} 10: deny-all ingress + from all IPs",
     [xb("deny-all-ingress", ingress=[]), xb("by-ip", ingress=[{"from": [ALL_IPS]}])], {"x/b": [(EVERYONE, ANY)]})
case(f"{C} 11: ingress from no IPs + from all pods",
     [xb("no-ip", ingress=[{"from": [NO_IPS]}]), xb("by-pod", ingress=[{"from": [ALL_PODS]}])], {"x/b": [(PODS9, ANY)]})
case(f"{C} 12: ingress from no pods + from all IPs",
     [xb("no-pod", ingress=[{"from": [NO_PODS]}]), xb("by-ip", ingress=[{"from": [ALL_IPS]}])],
     {"x/b": [(EVERYONE, ANY)]})
case(f"{C} 13: egress to no IPs", [xb("no-ip", egress=[{"to": [NO_IPS]}]), DNS_XB], {}, {"x/b": []})
case(f"{C} 14: egress to no pods", [xb("no-pod", egress=[{"to": [NO_PODS]}]), DNS_XB], {}, {"x/b": []})
case(f"{C} 15: ingress from no IPs", [xb("no-ip", ingress=[{"from": [NO_IPS]}])], {"x/b": []})
case(f"{C} 16: ingress from no pods", [xb("no-pod", ingress=[{"from": [NO_PODS]}])], {"x/b": []})


# --- servicecases.go: the same policy in x, y and z; a node source stands for SNAT -------
def everywhere(name: str, **rules: list[Obj]) -> list[Obj]:
    return [np(n, name, {}, **rules) for n in NAMESPACES]


S = f"{G} servicecases: LoadBalancer/NodePort, externalTrafficPolicy=Cluster:"
NODES = P("node-1 node-2")
NODE_BLOCKS = [{"ipBlock": {"cidr": f"{EXTERNAL[n]}/32"}} for n in ("node-1", "node-2")]
case(f"{S} deny all ingress", everywhere("deny-ingress", ingress=[]), {k: [] for k in PODS})
case(f"{S} allow ingress from pods (a SNATed node source is not a pod)",
     everywhere("allow-ingress-from-pods", ingress=[{"from": [ALL_PODS]}]), {k: [(PODS9, ANY)] for k in PODS})
case(f"{S} allow ingress from pods and nodes",
     everywhere("allow-ingress-from-pods-nodes", ingress=[{"from": [ALL_PODS, *NODE_BLOCKS]}]),
     {k: [(PODS9 | NODES, ANY)] for k in PODS})
case(f"{S} deny all egress", everywhere("deny-egress", egress=[]), {}, {k: [] for k in PODS})
case(f"{S} allow egress to pods", everywhere("allow-egress-to-pods", egress=[{"to": [ALL_PODS]}]),
     {}, {k: [(PODS9, ANY)] for k in PODS})

# --- matcher and integration tests, on the grid ---------------------------------------------
case("policy-assistant matcher policy_tests: allowing SCTP implicitly denies other protocols, from pods and IPs",
     [policy("x", "policy-207", {"podSelector": {}, "policyTypes": ["Ingress"],
                                 "ingress": [{"ports": [{"protocol": "SCTP"}]}]})],
     {k: [(EVERYONE, on("80/SCTP", "81/SCTP"))] for k in X})
case("policy-assistant integration TestNetPolV1Connectivity: deny all",
     [policy("x", "base", {"podSelector": {}, "policyTypes": ["Ingress"]})], {k: [] for k in X})
case("policy-assistant integration TestNetPolV1Connectivity: ingress port allowed (UDP 80 only)",
     [policy("x", "base", {"podSelector": sel(pod="a"), "policyTypes": ["Ingress"],
                           "ingress": [{"ports": [{"protocol": "UDP", "port": 80}]}]})],
     {"x/a": [(EVERYONE, on("80/UDP"))]})
# Kubernetes: NotIn also selects objects without the key (policy-assistant's kube/labelselector.go
# decides otherwise); no pod has a "tier" label, so all of x is isolated.
case("label selectors (cf. policy-assistant kube/labelselector.go): NotIn selects pods without the key",
     [policy("x", "p", {"podSelector": expr("tier", "NotIn", "db"), "policyTypes": ["Ingress"]})], {k: [] for k in X})


def permits(expect: Expect, subject: str, peer: str, probe: str) -> bool:
    grants = expect.get(subject)
    return grants is None or any(peer in peers and probe in probes for peers, probes in grants)


def mismatches(policies: list[Obj], ing: Expect, eg: Expect) -> list[str]:
    out = []
    for probe in PROBES:
        port, proto = probe.split("/")
        for s in SOURCES:
            for d in PODS:
                if s == d:
                    continue   # loopback: undefined upstream
                v = evaluate(policies, EP[s], EP[d], int(port), proto)
                want = (permits(ing, d, s, probe), permits(eg, s, d, probe))
                if (v.ingress.allowed, v.egress.allowed) != want:
                    out.append(f"{s} -> {d} {probe}: (ingress, egress) = "
                               f"{(v.ingress.allowed, v.egress.allowed)}, expected {want}")
    return out


@pytest.mark.parametrize("name,policies,ing,eg", CASES, ids=[c[0] for c in CASES])
def test_truth_table(name: str, policies: list[Obj], ing: Expect, eg: Expect) -> None:
    # a typo in an expectation would silently mean "not isolated" or "never admitted"
    for expect, subjects in ((ing, PODS), (eg, PODS)):
        assert set(expect) <= set(subjects)
        assert all(peers <= EVERYONE and probes <= ANY for grants in expect.values() for peers, probes in grants)
    assert mismatches(policies, ing, eg) == []


# --- single-cell facts from the matcher's unit tests -------------------------------------------
FAR_YB = pod("y", "b", "192.168.242.249")                                   # policy_tests' destination
HELLO_XA = pod("x", "a", "10.244.1.5", ports=[("port-hello", 8080, "TCP")])
APP_X = pod("z", "q", "10.244.2.30", labels={"app": "x"})
NO_APP = pod("z", "r", "10.244.2.31", labels={})
VARY_EGRESS = policy("x", "vary-egress-37-0-0-0-19", {
    "podSelector": sel(pod="a"), "policyTypes": ["Egress"],
    "egress": [{"ports": TCP80, "to": [{"podSelector": {}}, {"ipBlock": {"cidr": "192.168.242.213/24"}}]},
               {"ports": [{"port": 53, "protocol": "UDP"}]}]})
HELLO = policy("x", "abc", {"podSelector": sel(pod="a"), "policyTypes": ["Ingress"],
                            "ingress": [{"ports": [{"port": "port-hello", "protocol": "TCP"}]}]})
SCTP103 = policy("x", "abc", {"podSelector": {}, "policyTypes": ["Ingress"],
                              "ingress": [{"ports": [{"protocol": "SCTP", "port": 103}], "from": []}]})
BLOCK10 = policy("x", "abc", {"podSelector": {}, "policyTypes": ["Ingress"],
                              "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/24"}}]}]})
DNS_AND_RANGE = policy("x", "abc", {"podSelector": sel(pod="a"), "policyTypes": ["Egress"], "egress": [
    {"ports": [{"port": 53, "protocol": "UDP"}]},
    {"to": [{"namespaceSelector": {}, "podSelector": sel(app="x")}],
     "ports": [{"protocol": "TCP", "port": 80, "endPort": 103}]}]})
SCTP_UDP99 = policy("x", "abc", {"podSelector": {}, "policyTypes": ["Ingress"],
                                 "ingress": [{"ports": [{"protocol": "SCTP"}, {"protocol": "UDP", "port": 99}]}]})
TCP_UDP_100_999 = policy("x", "abc", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"ports": [
    {"protocol": p, "port": n} for n in (100, 999) for p in ("TCP", "UDP")]}]})
ONE = addr("1.2.3.4")
PT, BT, ST = "policy-assistant policy_tests", "policy-assistant builder_tests", "policy-assistant simplifier_tests"

POINTS = [  # (name, policies, source, destination, port, protocol, allowed)
    (f"{PT}: egress to IPs: a pod in the ipBlock on 80/TCP", [VARY_EGRESS], EP["x/a"], at(FAR_YB), 80, "TCP", True),
    (f"{PT}: egress to IPs: 81/TCP is in neither rule", [VARY_EGRESS], EP["x/a"], at(FAR_YB), 81, "TCP", False),
    (f"{PT}: egress to IPs: 53/UDP, the rule without peers", [VARY_EGRESS], EP["x/a"], at(FAR_YB), 53, "UDP", True),
    (f"{PT}: egress to IPs: podSelector {{}} is the policy's namespace only", [VARY_EGRESS], EP["x/a"], EP["y/b"],
     80, "TCP", False),
    (f"{PT}: egress to IPs: a pod of the policy's namespace", [VARY_EGRESS], EP["x/a"], EP["x/b"], 80, "TCP", True),
    (f"{PT}: ingress to named port port-hello", [HELLO], ONE, at(HELLO_XA), 8080, "TCP", True),
    (f"{PT}: ingress to named port: another port", [HELLO], ONE, at(HELLO_XA), 8081, "TCP", False),
    (f"{PT}: ingress to named port: the named port's number on UDP", [HELLO], ONE, at(HELLO_XA), 8080, "UDP", False),
    (f"{BT}: all IPs over SCTP/103 from an empty peer slice", [SCTP103], ONE, EP["x/a"], 103, "SCTP", True),
    (f"{BT}: all pods over SCTP/103 from an empty peer slice", [SCTP103], EP["y/c"], EP["x/a"], 103, "SCTP", True),
    (f"{BT}: SCTP/103 only: TCP/103", [SCTP103], ONE, EP["x/a"], 103, "TCP", False),
    (f"{BT}: a single IPBlock 10.0.0.1/24: an address in it", [BLOCK10], addr("10.0.0.200"), EP["x/a"],
     80, "TCP", True),
    (f"{BT}: a single IPBlock 10.0.0.1/24: an address outside", [BLOCK10], addr("10.0.1.1"), EP["x/a"],
     80, "TCP", False),
    (f"{ST}: DNS for all + TCP 80-103 to app=x: app=x on 90/TCP", [DNS_AND_RANGE], EP["x/a"], at(APP_X),
     90, "TCP", True),
    (f"{ST}: DNS for all + TCP 80-103 to app=x: unlabelled on 90/TCP", [DNS_AND_RANGE], EP["x/a"], at(NO_APP),
     90, "TCP", False),
    (f"{ST}: DNS for all + TCP 80-103 to app=x: unlabelled on 53/UDP", [DNS_AND_RANGE], EP["x/a"], at(NO_APP),
     53, "UDP", True),
    (f"{ST}: DNS for all + TCP 80-103 to app=x: app=x on 104/TCP", [DNS_AND_RANGE], EP["x/a"], at(APP_X),
     104, "TCP", False),
    (f"{ST}: DNS for all + TCP 80-103 to app=x: app=x on 90/UDP", [DNS_AND_RANGE], EP["x/a"], at(APP_X),
     90, "UDP", False),
    (f"{ST}: all of SCTP + UDP/99: SCTP/5000", [SCTP_UDP99], ONE, EP["x/a"], 5000, "SCTP", True),
    (f"{ST}: all of SCTP + UDP/99: UDP/99", [SCTP_UDP99], ONE, EP["x/a"], 99, "UDP", True),
    (f"{ST}: all of SCTP + UDP/99: UDP/100", [SCTP_UDP99], ONE, EP["x/a"], 100, "UDP", False),
    (f"{ST}: all of SCTP + UDP/99: TCP/99", [SCTP_UDP99], ONE, EP["x/a"], 99, "TCP", False),
    (f"{ST}: TCP and UDP on 100 and 999: UDP/999", [TCP_UDP_100_999], ONE, EP["x/a"], 999, "UDP", True),
    (f"{ST}: TCP and UDP on 100 and 999: TCP/101", [TCP_UDP_100_999], ONE, EP["x/a"], 101, "TCP", False),
    (f"{ST}: TCP and UDP on 100 and 999: SCTP/100", [TCP_UDP_100_999], ONE, EP["x/a"], 100, "SCTP", False),
]


@pytest.mark.parametrize("name,policies,src,dst,port,protocol,allowed", POINTS, ids=[p[0] for p in POINTS])
def test_matcher_fact(name: str, policies: list[Obj], src: Endpoint, dst: Endpoint, port: int, protocol: str,
                      allowed: bool) -> None:
    assert evaluate(policies, src, dst, port, protocol).allowed is allowed
