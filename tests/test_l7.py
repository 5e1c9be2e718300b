"""The L7 hop, tier 1: the pure readers (svcdoctor.l7) against the Ingress and Gateway API
semantics, in crowded setups, and the new targets (ingress/NAME, httproute/NAME, URLs) on
the recordings made on the real control plane (tests/l7_scenarios.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import scenarios  # noqa: F401  (registers the L7 scenarios)
import l7_scenarios
from helpers import cli
from svcdoctor.errors import UsageError
from svcdoctor.l7 import classes, gateway as gw, urls
from svcdoctor.l7.refs import BackendRef, backends, ingress_port_matches
from svcdoctor.target import parse_target

ROOT = Path(__file__).resolve().parents[1]
REC = ROOT / "svcdoctor" / "recordings"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli(), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": "/nonexistent"})


def ingress(name: str, ns: str, rules: list, cls: str | None = "nginx", annotations: dict | None = None,
            default: tuple | None = None) -> dict:
    obj = json.loads(l7_scenarios.ingress(name, ns, rules, cls=cls, annotations=annotations))
    if default:
        obj["spec"]["defaultBackend"] = {"service": {"name": default[0], "port": {"number": default[1]}}}
    return obj


# --- Ingress port matching (ingress-nginx: port number, targetPort string or name) ------

PORT = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}


@pytest.mark.parametrize("backend,nginx,matches", [
    (80, False, True), (80, True, True),            # the Service port number: everyone
    ("http", False, True), ("http", True, True),    # the port name: everyone
    (8080, True, True), (8080, False, False),       # the targetPort: ingress-nginx only
    (8443, True, False), ("web", True, False),      # nothing
])
def test_ingress_port_matching(backend, nginx, matches):
    assert ingress_port_matches(PORT, backend, nginx=nginx) is matches


def test_named_target_port_string_matches_for_nginx_only():
    port = {"name": "web", "port": 80, "targetPort": "http"}
    assert ingress_port_matches(port, "http", nginx=True)
    assert not ingress_port_matches(port, "http", nginx=False)


# --- URL → rules ------------------------------------------------------------------------

def _crowded_ingresses() -> list[dict]:
    out = [ingress(f"app-{i}", "shop", [(f"app-{i}.shop.example", "/", f"app-{i}", "http")]) for i in range(30)]
    out.append(ingress("shop", "shop", [("shop.example", "/", "front", "http"), ("shop.example", "/cart", "cart", "http"),
                                        ("shop.example", "/cart/api", "cart-api", "http"),
                                        ("*.shop.example", "/", "wildcard", "http")]))
    return out


@pytest.mark.parametrize("url,want", [
    ("https://shop.example/", ["front"]),
    ("https://shop.example/cart", ["cart"]),
    ("https://shop.example/cart/", ["cart"]),
    ("https://shop.example/cart/items", ["cart"]),
    ("https://shop.example/cartoon", ["front"]),            # Prefix is element-wise
    ("https://shop.example/cart/api/v1", ["cart-api"]),     # the longest prefix wins
    ("https://app-17.shop.example/x", ["app-17"]),          # exact host over wildcard
    ("https://new.shop.example/", ["wildcard"]),            # a wildcard matches one label
    ("https://a.b.shop.example/", []),                      # ... and only one
])
def test_url_selects_the_most_specific_rule_among_thirty_ingresses(url, want):
    matches = urls.select(_crowded_ingresses(), urls.parse(url))
    assert [r.name for m in matches for r in m.refs] == want


def test_exact_path_beats_prefix_and_default_backend_catches_the_rest():
    ing = ingress("x", "shop", [("shop.example", "/", "front", "http")], default=("fallback", 80))
    ing["spec"]["rules"][0]["http"]["paths"].append(
        {"path": "/login", "pathType": "Exact", "backend": {"service": {"name": "auth", "port": {"number": 80}}}})
    pick = lambda u: [r.name for m in urls.select([ing], urls.parse(u)) for r in m.refs]  # noqa: E731
    assert pick("http://shop.example/login") == ["auth"]
    assert pick("http://shop.example/login/x") == ["front"]
    assert pick("http://other.example/") == ["fallback"]


def test_url_reaches_both_an_ingress_and_a_route():
    route = json.loads(l7_scenarios.httproute("r", "shop", ("infra", "public"), ["shop.example"],
                                              [("/api", [{"name": "api", "port": 80}])]))
    matches = urls.select([*_crowded_ingresses(), route], urls.parse("https://shop.example/api/x"))
    assert [(m.obj["kind"], [r.name for r in m.refs]) for m in matches] == [("Ingress", ["front"]), ("HTTPRoute", ["api"])]


@pytest.mark.parametrize("text", ["ftp://x/", "https://", "https://exa mple.com/", "http://[::1/"])
def test_bad_urls_are_usage_errors(text):
    with pytest.raises(UsageError):
        urls.parse(text)


@pytest.mark.parametrize("text,want", [
    ("svc/web", ("Service", "web")), ("web", ("Service", "web")), ("ing/web", ("Ingress", "web")),
    ("ingress/web", ("Ingress", "web")), ("httproute/web", ("HTTPRoute", "web")),
    ("grpcroutes/w", ("GRPCRoute", "w")), ("https://a.example/x", ("URL", "https://a.example/x")),
])
def test_targets(text, want):
    assert parse_target(text) == want


@pytest.mark.parametrize("text", ["deploy/web", "ingress/", "ingress/a/b", "httproute/UPPER"])
def test_bad_targets(text):
    with pytest.raises(UsageError):
        parse_target(text)


# --- ReferenceGrant (from: group, kind, namespace; to: group, kind, optional name) ------

ROUTE = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "r", "namespace": "web"}, "spec": {}}


def _ref(name: str = "payments", ns: str = "billing", kind: str = "Service", group: str = "") -> BackendRef:
    return BackendRef(ROUTE, "HTTPRoute web/r", ns, name, 80, "/spec/rules/0/backendRefs/0", kind=kind, group=group)


def _grant(frm: list[dict], to: list[dict], ns: str = "billing") -> dict:
    return {"kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": ns}, "spec": {"from": frm, "to": to}}


FROM_WEB = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "web"}


@pytest.mark.parametrize("frm,to,ns,permits", [
    ([FROM_WEB], [{"group": "", "kind": "Service"}], "billing", True),                       # any Service
    ([FROM_WEB], [{"group": "", "kind": "Service", "name": "payments"}], "billing", True),   # this one
    ([FROM_WEB], [{"group": "", "kind": "Service", "name": "ledger"}], "billing", False),    # another one
    ([FROM_WEB], [{"group": "", "kind": "Service"}], "web", False),          # a grant must live in the target's namespace
    ([{**FROM_WEB, "namespace": "legacy"}], [{"group": "", "kind": "Service"}], "billing", False),
    ([{**FROM_WEB, "kind": "GRPCRoute"}], [{"group": "", "kind": "Service"}], "billing", False),
    ([{**FROM_WEB, "group": ""}], [{"group": "", "kind": "Service"}], "billing", False),
    ([{**FROM_WEB, "namespace": "legacy"}, FROM_WEB], [{"group": "", "kind": "Secret"}, {"group": "", "kind": "Service"}],
     "billing", True),                                                        # entries are OR-ed
])
def test_reference_grant_truth_table(frm, to, ns, permits):
    assert gw.grant_permits(_grant(frm, to, ns), _ref()) is permits


def test_grant_gaps_name_what_is_missing():
    gaps = gw.grant_gaps(_grant([{**FROM_WEB, "namespace": "legacy"}], [{"group": "", "kind": "Service"}]), _ref())
    assert gaps == ["its from admits HTTPRoute in legacy, not HTTPRoute in web"]


# --- listeners ---------------------------------------------------------------------------

GATEWAY = {"kind": "Gateway", "metadata": {"name": "g", "namespace": "infra"}}


@pytest.mark.parametrize("rule,ns,labels,admits", [
    ({}, "infra", {}, True), ({}, "web", {}, False),                      # default: Same
    ({"from": "All"}, "web", {}, True),
    ({"from": "Selector", "selector": {"matchLabels": {"gw": "yes"}}}, "web", {"gw": "yes"}, True),
    ({"from": "Selector", "selector": {"matchLabels": {"gw": "yes"}}}, "web", {}, False),
    ({"from": "None"}, "infra", {}, False),
])
def test_listener_namespace_admission(rule, ns, labels, admits):
    listener = {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": rule} if rule else {}}
    namespaces = {ns: {"metadata": {"name": ns, "labels": labels}}}
    assert gw.listener_admits_namespace(listener, GATEWAY, ns, namespaces) is admits


@pytest.mark.parametrize("listener,route,ok", [
    ("", ["a.example"], True), ("*.example", [], True), ("*.example", ["a.example"], True),
    ("*.example", ["a.b.example"], True), ("*.example", ["example"], False),
    ("a.example", ["b.example"], False), ("a.example", ["*.example"], True),
])
def test_hostnames_intersection(listener, route, ok):
    assert gw.hostnames_intersect(listener, route) is ok


# --- who claims an Ingress ------------------------------------------------------------------

def _pod(name: str, ns: str, labels: dict, image: str, args: list[str] = ()) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": image, "args": list(args)}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


NGINX_POD = _pod("ingress-nginx-controller-1", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"},
                 "registry.k8s.io/ingress-nginx/controller:v1.12.1", ["--ingress-class=nginx"])
NGINX_CLASS = {"kind": "IngressClass", "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
TRAEFIK_POD = _pod("traefik-1", "kube-system", {"app.kubernetes.io/name": "traefik"}, "rancher/mirrored-library-traefik:3.3.6")


def claimed_by(ing: dict, pods: list[dict], classes_: list[dict], nodes: list[dict] = ()) -> list[str]:
    return [r.controller.name for r in classes.claimants(ing, classes_, classes.running(pods, nodes))]


@pytest.mark.parametrize("cls,annotations,flags,want", [
    ("nginx", None, [], ["ingress-nginx"]),
    ("nginx-internal", None, [], []),                                     # no such IngressClass
    (None, {"kubernetes.io/ingress.class": "nginx"}, [], ["ingress-nginx"]),   # legacy annotation honoured
    (None, {"kubernetes.io/ingress.class": "internal"}, [], []),
    (None, None, [], []),                                                 # no class: ignored by default
    (None, None, ["--watch-ingress-without-class=true"], ["ingress-nginx"]),
    (None, None, ["--watch-ingress-without-class"], ["ingress-nginx"]),
])
def test_ingress_nginx_claims_by_its_own_rule(cls, annotations, flags, want):
    pod = _pod("c", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"},
               "registry.k8s.io/ingress-nginx/controller:v1.12.1", ["--ingress-class=nginx", *flags])
    ing = ingress("web", "shop", [("a", "/", "web", "http")], cls=cls, annotations=annotations)
    assert claimed_by(ing, [pod], [NGINX_CLASS]) == want


def test_traefik_takes_classless_ingresses_and_gke_ignores_class_names():
    classless = ingress("web", "shop", [("a", "/", "web", "http")], cls=None)
    assert claimed_by(classless, [TRAEFIK_POD, NGINX_POD], [NGINX_CLASS]) == ["Traefik"]
    gke = [{"kind": "Node", "metadata": {"name": "n"}, "spec": {"providerID": "gce://p/z/n"}}]
    assert claimed_by(classless, [], [], gke) == ["GKE Ingress (ingress-gce)"]
    named = ingress("web", "shop", [("a", "/", "web", "http")], cls="gce")
    assert claimed_by(named, [], [], gke) == []    # ingress-gce ignores spec.ingressClassName


def test_controllers_recognised_among_a_crowd_of_pods():
    crowd = [_pod(f"app-{i}", "shop", {"app": f"app-{i}"}, f"shop/app-{i}:1") for i in range(200)]
    crowd.append(_pod("nginx-cache", "shop", {"app": "nginx"}, "nginx:1.27"))   # an nginx, not a controller
    found = classes.running([*crowd, NGINX_POD, TRAEFIK_POD])
    assert sorted(r.controller.name for r in found) == ["Traefik", "ingress-nginx"]


# --- the recordings as L7 targets ------------------------------------------------------------

def test_every_new_id_is_shown_by_a_recording_and_a_scenario():
    for fid, name in l7_scenarios.SHOWN_BY.items():
        assert fid in scenarios.BY_NAME[name].expect
        assert (REC / f"{name}.yaml").is_file()


@pytest.mark.parametrize("recording,target,front_ids,backends", [
    ("l7-ingress-wrong-port", ["ingress/cart", "-n", "l7-store"], ["ingress-backend-port-not-found"], ["l7-store/cart"]),
    ("l7-ingress-wrong-port", ["http://cart.shop.example/basket"], ["ingress-backend-port-not-found"], ["l7-store/cart"]),
    ("l7-ingress-healthy", ["ing/web", "-n", "l7-web"], [], ["l7-web/web"]),
    ("l7-ingress-healthy", ["https://www.shop.example/"], [], ["l7-web/web"]),
    ("l7-route-backend-typo", ["httproute/inventory", "-n", "l7-stock"], ["route-backend-not-found"], []),
    ("l7-route-backend-typo", ["http://stock.shop.example/stock/42"], ["route-backend-not-found"], []),
    ("l7-route-ref-not-permitted", ["httproute/pay", "-n", "l7-checkout"], ["route-ref-not-permitted"],
     ["l7-billing/payments"]),
    ("l7-route-wrong-port", ["httproute/reports", "-n", "l7-reports"],
     ["gateway-not-programmed", "route-backend-port-not-found"], ["l7-reports/reports"]),
    ("l7-route-healthy", ["httproute/orders", "-n", "l7-orders"], [], ["l7-orders/orders"]),
])
def test_l7_targets_on_recordings(recording, target, front_ids, backends):
    proc = run("diagnose", *target, "--from", str(REC / f"{recording}.yaml"), "-o", "json")
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(f["id"] for f in report["findings"] if f["id"] != "could-not-verify") == front_ids
    assert [b["target"] for b in report.get("backends", [])] == backends
    worst = max([report] + report.get("backends", []), key=lambda r: r["exitCode"])["exitCode"]
    assert proc.returncode == report["exitCode"] == worst
    for b in report.get("backends", []):
        assert b["service"]["reachedThrough"], b   # how traffic gets there, not the L7 findings again
        assert not [f for f in b["findings"] if f["check"].split(".")[0] in ("ingresses", "routes")]


def test_l7_target_text_output_shows_the_chain():
    proc = run("diagnose", "ingress/cart", "-n", "l7-store", "--from", str(REC / "l7-ingress-wrong-port.yaml"))
    assert proc.returncode == 2
    assert proc.stdout.startswith("svcdoctor Ingress l7-store/cart\n")
    out = " ".join(proc.stdout.split())  # the words, whatever the terminal width wrapped
    assert "→ Ingress l7-store/cart (cart.shop.example/ (Prefix)) → service l7-store/cart port 8443" in out
    assert "backend Service l7-store/cart" in out and "reached through Ingress l7-store/cart" in out
    assert "kubectl -n l7-store patch ingress cart --type json -p '[{\"op\":\"replace\",\"path\":" \
           "\"/spec/rules/0/http/paths/0/backend/service/port\",\"value\":{\"name\":\"http\"}}]'" in out


@pytest.mark.parametrize("target,message", [
    (["ingress/crat", "-n", "l7-store"], "Ingress 'crat' not found in namespace 'l7-store'"),
    (["http://crat.shop.example/"], "no Ingress rule or route matches http://crat.shop.example/"),
    (["httproute/orders", "-n", "l7-store"], "HTTPRoute 'orders' not found in namespace 'l7-store'"),
    (["ftp://cart.shop.example/"], "svcdoctor diagnoses Services"),
])
def test_l7_target_not_found_is_one_line(target, message):
    proc = run("diagnose", *target, "--from", str(REC / "l7-ingress-wrong-port.yaml"))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert message in line, line


def test_did_you_mean_for_an_ingress_and_a_host():
    rec = str(REC / "l7-ingress-wrong-port.yaml")
    assert "did you mean 'cart'" in run("diagnose", "ingress/crat", "-n", "l7-store", "--from", rec).stderr
    assert "did you mean 'cart.shop.example'" in run("diagnose", "http://crat.shop.example/", "--from", rec).stderr


def test_near_miss_needs_a_clear_winner():
    """A reference to "web-x" in a namespace with web-a and web-b is nobody's near miss."""
    from svcdoctor.evidence import Evidence
    from svcdoctor.kube import now_utc
    from svcdoctor.target import Target

    svc = lambda n: {"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": "shop"},  # noqa: E731
                     "spec": {"ports": [{"port": 80}]}}
    ing = ingress("i", "shop", [("a", "/", "web-x", 80)])
    items = [svc("web-a"), svc("web-b"), ing]
    for target, want in (("web-a", []), ("web-b", [])):
        ev = Evidence(Target("shop", target), items, {"Service", "Ingress"}, now_utc(), "test")
        ev.service_namespaces = {"shop"}
        assert [r.name for r in ev.l7_refs] == want
    items = [svc("web-api"), svc("payments"), ingress("i", "shop", [("a", "/", "web-apj", 80)])]
    ev = Evidence(Target("shop", "web-api"), items, {"Service", "Ingress"}, now_utc(), "test")
    ev.service_namespaces = {"shop"}
    assert [r.name for r in ev.l7_refs] == ["web-apj"]
    assert backends(items[2])[0].pointer == "/spec/rules/0/http/paths/0/backend/service"


# --- controllers' own words ------------------------------------------------------------------

@pytest.mark.parametrize("message,entry,groups", [
    # ingress-gce pkg/controller: "Translation failed: %v" around pkg/controller/errors texts
    ('Translation failed: invalid ingress spec: could not find port "8080" in service "shop/web"',
     "gce-port-not-found", {"port": "8080", "svc": "shop/web"}),
    ('Translation failed: invalid ingress spec: could not find service "shop/wbe"', "gce-service-not-found",
     {"svc": "shop/wbe"}),
    ('error while evaluating the ingress spec: service "shop/web" is type "ClusterIP", expected "NodePort" or '
     '"LoadBalancer"', "gce-service-type", {"type": "ClusterIP"}),
    ("Error syncing to GCP: error running load balancer syncing routine: googleapi: Error 403: Quota "
     "'BACKEND_SERVICES' exceeded.  Limit: 5.0 globally.", "gce-sync-error", {}),
    # aws-load-balancer-controller group_controller.go / service_utils.go
    ("Failed build model due to unable to find port grpc on service shop/api", "aws-lbc-port-not-found",
     {"port": "grpc", "svc": "shop/api"}),
    ('Failed build model due to services "api" not found', "aws-lbc-service-not-found", {"svc_name": "api"}),
    ("conflicting values for IngressClass by `spec.IngressClass` and `kubernetes.io/ingress.class` annotation",
     "aws-lbc-conflicting-class", {}),
    ("Failed deploy model due to AccessDenied: User: arn:aws:sts::123:assumed-role/x is not authorized",
     "aws-lbc-build-model", {}),
    # Kong internal/dataplane; F5 NGINX internal/k8s/controller.go
    ("failed to resolve Kubernetes Service for backend: failed to fetch Service shop/x: Service shop/x not found",
     "kong-service-not-resolved", {}),
    ("Configuration for shop/web was added or updated ; but was not applied: error reloading NGINX for shop/web",
     "nginx-inc-rejected", {}),
    ("Scheduled for sync", None, {}),
])
def test_ingress_controller_texts_are_translated(message, entry, groups):
    from svcdoctor.plugins.ingresses import causes
    from svcdoctor import tables

    found, got = tables.search(causes(), message)
    assert (found or {}).get("id") == entry
    assert {k: got[k] for k in groups} == groups


@pytest.mark.parametrize("implementation,message", [
    ("Envoy Gateway", "Service shop/ordres not found"),
    ("Istio", "backend(ordres.shop.svc.cluster.local) not found"),
    ("Cilium", 'services "ordres" not found'),
    ("NGINX Gateway Fabric", 'spec.rules[0].backendRefs[0].name: Not found: "ordres"'),
])
def test_route_backend_not_found_from_each_implementations_status(implementation, message):
    """Without the Services of that namespace (not listed, e.g. forbidden), the route's own
    ResolvedRefs=False/BackendNotFound still says the backend is missing."""
    from svcdoctor.evidence import Evidence
    from svcdoctor.kube import now_utc
    from svcdoctor.plugins.routes import check_backends
    from svcdoctor.target import Target

    route = json.loads(l7_scenarios.httproute("orders", "shop", ("infra", "public"), ["a.example"],
                                              [("/", [{"name": "ordres", "port": 80}])]))
    route["status"] = {"parents": [{"parentRef": {"name": "public", "namespace": "infra"}, "controllerName": "x",
                                    "conditions": [{"type": "ResolvedRefs", "status": "False",
                                                    "reason": "BackendNotFound", "message": message}]}]}
    ev = Evidence(Target("shop", "orders", "HTTPRoute"), [route], {"HTTPRoute"}, now_utc(), "test")
    ev.service_namespaces = set()
    (f,) = check_backends(ev)
    assert f.id == "route-backend-not-found" and f.facts["backend_service"] == "ordres", implementation
