"""``svcdoctor scan`` against the real control plane: the same findings as ``diagnose``
for every Service of the cluster, a request count that does not grow with the Services,
forbidden namespaces and kinds, an API error mid-scan, and the shipped read-only role.

(Each control-plane scenario's own test also scans its namespace: test_controlplane.py.)"""

from __future__ import annotations

import json

import pytest
import yaml

import scenarios
from scan_equivalence import assert_scan_matches_diagnose
from svcdoctor.scan import Scope, live
from test_controlplane import (SA_USER, FaultProxy, _kubeconfig, ran,  # noqa: F401 - ran is a fixture
                               reader_kubeconfig, svcdoctor)

SHARED = ["healthy-clusterip", "selector-typo", "selector-wrong-key", "pods-in-other-namespace",
          "readiness-failing", "target-port-name-missing", "lb-no-implementation", "node-notready",
          "no-selector-mislinked", "healthy-manual-endpoints"]


def test_scan_of_all_namespaces_equals_diagnose_of_each_service(cp, ran):
    for name in SHARED:
        ran(name)
    compared = assert_scan_matches_diagnose(str(cp.kubeconfig), Scope(all_namespaces=True))
    assert compared >= len(SHARED)


def _apps(ns: str, n: int, typos: int) -> str:
    """n Deployments with their Services; the first ``typos`` Services' selectors are misspelt."""
    docs = []
    for i in range(n):
        docs.append(scenarios.deployment(f"app{i}", ns, {"app": f"app{i}"}, replicas=1))
        docs.append(scenarios.service(f"app{i}", ns, {"app": f"app{i}x" if i < typos else f"app{i}"}))
    return "\n---\n".join(docs)


def _sliced(cp, ns: str) -> bool:
    """Every Service with a selector has its EndpointSlice (the controller has caught up)."""
    svcs = json.loads(cp.kubectl("get", "services", "-n", ns, "-o", "json").stdout)["items"]
    slices = json.loads(cp.kubectl("get", "endpointslices", "-n", ns, "-o", "json").stdout)["items"]
    named = {s["metadata"].get("labels", {}).get("kubernetes.io/service-name") for s in slices}
    return all(s["metadata"]["name"] in named for s in svcs if s["spec"].get("selector"))


def _more(ns: str, start: int, n: int, typos: int) -> str:
    """n more Services over the existing Deployments (app0..app5), ``typos`` of them broken."""
    return "\n---\n".join(scenarios.service(f"extra{i}", ns, {"app": f"app{i % 6}" + ("y" if i < typos else "")})
                          for i in range(start, start + n))


@pytest.mark.parametrize("all_namespaces", [False, True], ids=["-n", "-A"])
def test_requests_do_not_grow_with_the_number_of_services(cp, all_namespaces):
    ns = "scan-grow-all" if all_namespaces else "scan-grow"
    cp.create_namespace(ns)
    cp.kubectl("apply", "-f", "-", input=_apps(ns, 6, typos=4))
    cp.wait_until(lambda: len(scenarios.pods(cp, ns)) == 6 and all(scenarios.ready(p) for p in scenarios.pods(cp, ns))
                  and _sliced(cp, ns), timeout=120, what="6 ready pods")
    scope = Scope(all_namespaces=True) if all_namespaces else Scope(ns)
    first = live(scope, kubeconfig=str(cp.kubeconfig))
    mine = [r for r in first.reports if r.target.startswith(ns + "/")]
    assert len(mine) == 6
    assert sum(any(f.id == "selector-matches-no-pods" for f in r.findings) for r in mine) == 4
    cp.kubectl("apply", "-f", "-", input=_more(ns, 0, 30, typos=8))
    cp.wait_until(lambda: _sliced(cp, ns), timeout=120, what="a slice for every Service")
    second = live(scope, kubeconfig=str(cp.kubeconfig))
    assert len([r for r in second.reports if r.target.startswith(ns + "/")]) == 36
    assert sum(any(f.id == "selector-matches-no-pods" for f in r.findings)
               for r in second.reports if r.target.startswith(ns + "/")) == 12
    # the formula: one request per list read (each fits one page here), whatever the count
    assert second.requests == len(second.lists) == first.requests, (first.lists, second.lists)
    # 4 broken Services looked for their pods elsewhere: 3 filtered reads, then the whole list
    elsewhere = [p for p in second.lists if p.startswith("/api/v1/pods")]
    assert len(elsewhere) == (1 if all_namespaces else 4), elsewhere


def _namespaced_reader(cp, tmp_path, name: str, grants: dict[str, list[str]]):
    """A ServiceAccount allowed to list namespaces and nodes cluster-wide, and in each
    namespace of ``grants`` to get/list exactly the resources named there."""
    docs = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "default"}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
             "rules": [{"apiGroups": [""], "resources": ["namespaces", "nodes"], "verbs": ["get", "list"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
             "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]}]
    for ns, resources in grants.items():
        core = [r for r in resources if r != "endpointslices"]
        rules = [{"apiGroups": [""], "resources": core, "verbs": ["get", "list"]}]
        if "endpointslices" in resources:
            rules.append({"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list"]})
        docs += [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                  "metadata": {"name": name, "namespace": ns}, "rules": rules},
                 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": name, "namespace": ns},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                  "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]}]
    cp.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    token = cp.create_token("default", name, create_service_account=False)
    return cp.kubeconfig_for_token(token, tmp_path / f"{name}.kubeconfig")


def test_forbidden_kinds_in_some_namespaces_are_could_not_verify(cp, ran, tmp_path):
    """Allowed everything in shop, only Services and slices in checkout (no pods, no events),
    nothing elsewhere: shop's broken Service is found, checkout's gets could-not-verify
    naming the 403 (never "matches no pods"), the other namespaces are listed as unread."""
    ran("selector-typo")        # shop/web-api: selector-matches-no-pods
    ran("selector-wrong-key")   # checkout/checkout: the same, but its pods cannot be listed
    kc = _namespaced_reader(cp, tmp_path, "scan-partial", {
        "shop": ["services", "pods", "events", "endpoints", "endpointslices"],
        "checkout": ["services", "endpointslices"]})
    result = live(Scope(all_namespaces=True), kubeconfig=str(kc))
    by = {r.target: r for r in result.reports}
    assert {t.split("/")[0] for t in by} == {"shop", "checkout"}
    assert any(f.id == "selector-matches-no-pods" for f in by["shop/web-api"].findings)
    checkout = by["checkout/checkout"]
    assert not [f for f in checkout.findings if f.id == "selector-matches-no-pods"]
    unknown = " ".join(f.explanation for f in checkout.could_not_verify)
    assert "list pods in namespace checkout" in unknown and "403" in unknown
    assert any(m.startswith("the Services of namespace kube-system: 403") for m in result.missing)
    # per namespace, the same findings as diagnose with the same rights
    for ns in ("shop", "checkout"):
        assert assert_scan_matches_diagnose(str(kc), Scope(ns)) >= 1
    proc = svcdoctor("scan", "-A", "-o", "json", kubeconfig=kc)
    assert proc.returncode == 4 and "incomplete" in proc.stderr and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["complete"] is False and doc["missing"]


def test_api_error_mid_scan_reports_the_rest(cp, tmp_path):
    """The API server fails one list (the legacy Endpoints, read only for a Service with no
    EndpointSlice): that Service is not diagnosed and says why; the others are."""
    ns = "scan-fault"
    cp.create_namespace(ns)
    cp.kubectl("apply", "-f", "-", input=_apps(ns, 3, typos=1) + "\n---\n" + scenarios.service(
        "legacy-db", ns, None, ports="[{name: pg, port: 5432, targetPort: 5432}]"))
    cp.wait_until(lambda: len(scenarios.pods(cp, ns)) == 3, timeout=120, what="3 pods")
    proxy = FaultProxy(cp, 500, times=None)
    proxy_only = f"/api/v1/namespaces/{ns}/endpoints"
    proxy.only = proxy_only
    try:
        kc = _kubeconfig(tmp_path / "kc", proxy.url)
        result = live(Scope(ns), kubeconfig=str(kc))
        assert [t for t, _ in result.not_diagnosed] == [f"{ns}/legacy-db"]
        assert "answered 500" in result.not_diagnosed[0][1]
        assert sorted(r.target for r in result.reports) == [f"{ns}/app0", f"{ns}/app1", f"{ns}/app2"]
        proc = svcdoctor("scan", "-n", ns, "-o", "json", kubeconfig=kc)
        assert proc.returncode == 4 and "Traceback" not in proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["notDiagnosed"][0]["target"] == f"{ns}/legacy-db" and len(doc["services"]) == 3
    finally:
        proxy.close()


def test_reader_role_scans_every_namespace_read_only(cp, ran, reader_kubeconfig):
    for name in SHARED:
        ran(name)
    before = len(cp.audit_events(user=SA_USER))
    proc = svcdoctor("scan", "-A", "-o", "json", kubeconfig=reader_kubeconfig, timeout=300)
    doc = json.loads(proc.stdout)
    assert doc["complete"] is True and proc.returncode in (1, 2)
    requests = cp.audit_events(user=SA_USER)[before:]
    assert {e["verb"] for e in requests} <= {"get", "list"}
    assert not any("secrets" in e["requestURI"] for e in requests)
    assert len(requests) == doc["apiRequests"] <= 20, [e["requestURI"] for e in requests]
    assert len(doc["services"]) >= len(SHARED)
    broken = {s["target"] for s in doc["services"] if any(f["id"] == "selector-matches-no-pods" for f in s["findings"])}
    assert {"shop/web-api", "checkout/checkout"} <= broken
    assert cp.mutating_requests(SA_USER) == []
