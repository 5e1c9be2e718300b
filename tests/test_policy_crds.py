"""Other policy APIs (Cilium, Calico, the AdminNetworkPolicy tiers): which policies select a
pod, and how the report names them instead of ignoring them. Selection facts from each
API's documentation: Cilium's endpointSelector with its ``k8s:`` source prefix and
``io.kubernetes.pod.namespace``; Calico's selector expressions; the network-policy-api
subject (namespaces, or pods within namespaces)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpers import cli
from svcdoctor.netpol import crds

REC = Path(__file__).resolve().parents[1] / "svcdoctor" / "recordings"
API = {a.label: a for a in crds.APIS}


def _pod(ns: str, labels: dict, sa: str = "") -> dict:
    return {"metadata": {"name": "p", "namespace": ns, "labels": labels},
            "spec": {"containers": [], **({"serviceAccountName": sa} if sa else {})}}


def _ns(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}


def _pol(kind_label: str, ns: str | None, spec: dict, *, specs: list | None = None) -> dict:
    api = API[kind_label]
    body = {"apiVersion": f"{api.group}/{api.versions[0]}", "kind": api.kind,
            "metadata": {"name": "x", **({"namespace": ns} if ns else {})}, "spec": spec}
    if specs is not None:
        body["specs"] = specs
    return body


WEB = _pod("shop", {"app": "web", "tier": "fe"}, sa="web-sa")
SHOP = _ns("shop", team="retail", env="prod")
CNP, CCNP = "CiliumNetworkPolicy.cilium.io", "CiliumClusterwideNetworkPolicy.cilium.io"
CALICO, GNP = "NetworkPolicy.crd.projectcalico.org", "GlobalNetworkPolicy.crd.projectcalico.org"
ANP, BANP = "AdminNetworkPolicy.policy.networking.k8s.io", "BaselineAdminNetworkPolicy.policy.networking.k8s.io"
CNP2 = "ClusterNetworkPolicy.policy.networking.k8s.io"


@pytest.mark.parametrize("label,ns,spec,expected", [
    (CNP, "shop", {"endpointSelector": {"matchLabels": {"app": "web"}}}, True),
    (CNP, "shop", {"endpointSelector": {"matchLabels": {"k8s:app": "web"}}}, True),
    (CNP, "shop", {"endpointSelector": {"matchLabels": {"any:tier": "fe"}}}, True),
    (CNP, "shop", {"endpointSelector": {}}, True),                                  # every endpoint of the namespace
    (CNP, "other", {"endpointSelector": {}}, False),                                # another namespace's policy
    (CNP, "shop", {"endpointSelector": {"matchLabels": {"app": "api"}}}, False),
    (CNP, "shop", {"nodeSelector": {}}, False),                                     # a host policy selects nodes
    (CNP, "shop", {"endpointSelector": {"matchExpressions": [{"key": "k8s:app", "operator": "In",
                                                               "values": ["web", "api"]}]}}, True),
    (CCNP, None, {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop"}}}, True),
    (CCNP, None, {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "pay"}}}, False),
    (CCNP, None, {"endpointSelector": {"matchLabels": {"io.cilium.k8s.namespace.labels.team": "retail"}}}, True),
    (CCNP, None, {"endpointSelector": {"matchLabels": {"io.cilium.k8s.policy.serviceaccount": "web-sa"}}}, True),
    (CALICO, "shop", {"selector": "app == 'web'"}, True),
    (CALICO, "shop", {"selector": "app == \"web\" && tier in {'fe', 'be'}"}, True),
    (CALICO, "shop", {"selector": "has(app) && !has(canary)"}, True),
    (CALICO, "shop", {"selector": "app != 'web'"}, False),
    (CALICO, "shop", {"selector": "app not in {'web'}"}, False),
    (CALICO, "shop", {}, True),                                                     # no selector: all()
    (CALICO, "shop", {"selector": "app == 'web' || app == 'api'"}, None),           # beyond reading: may select
    (CALICO, "shop", {"selector": "app starts with 'we'"}, None),
    (CALICO, "other", {"selector": "all()"}, False),
    (GNP, None, {"selector": "projectcalico.org/namespace == 'shop'"}, True),
    (GNP, None, {"selector": "all()", "namespaceSelector": "team == 'retail'"}, True),
    (GNP, None, {"selector": "all()", "namespaceSelector": "team == 'payments'"}, False),
    (GNP, None, {"selector": "app == 'web'", "namespaceSelector": "projectcalico.org/name == 'shop'"}, True),
    (ANP, None, {"subject": {"namespaces": {"matchLabels": {"env": "prod"}}}}, True),
    (ANP, None, {"subject": {"namespaces": {}}}, True),
    (ANP, None, {"subject": {"namespaces": {"matchLabels": {"env": "dev"}}}}, False),
    (ANP, None, {"subject": {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}}}, True),
    (ANP, None, {"subject": {"pods": {"namespaceSelector": {"matchLabels": {"env": "dev"}},
                                      "podSelector": {"matchLabels": {"app": "web"}}}}}, False),
    (BANP, None, {"subject": {"namespaces": {}}}, True),
    (CNP2, None, {"tier": "Admin", "priority": 5, "subject": {"namespaces": {"matchLabels": {"team": "retail"}}}}, True),
    (ANP, None, {}, None),                                                          # no subject: cannot tell
])
def test_selection(label, ns, spec, expected):
    assert crds.selects(API[label], _pol(label, ns, spec), WEB, SHOP) is expected


def test_cilium_multi_spec_policy_selects_when_any_spec_does():
    pol = _pol(CNP, "shop", {}, specs=[{"endpointSelector": {"matchLabels": {"app": "api"}}},
                                       {"endpointSelector": {"matchLabels": {"app": "web"}}}])
    assert crds.selects(API[CNP], pol, WEB, SHOP) is True


def test_calico_kind_is_told_apart_from_kubernetes_networkpolicy():
    k8s = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x", "namespace": "shop"},
           "spec": {"podSelector": {}}}
    calico = _pol(CALICO, "shop", {"selector": "all()"})
    assert crds.objects([k8s, calico], API[CALICO]) == [calico]
    from svcdoctor.plugins.network_policy import k8s_policies
    assert k8s_policies([k8s, calico]) == [k8s]


def test_the_served_version_comes_from_discovery():
    groups = [{"name": "policy.networking.k8s.io", "versions": [{"groupVersion": "policy.networking.k8s.io/v1alpha1",
                                                                "version": "v1alpha1"}]},
              {"name": "cilium.io", "versions": [{"version": "v2"}, {"version": "v2alpha1"}]}]
    assert crds.served_version(groups, API[ANP]) == "v1alpha1"
    assert crds.served_version(groups, API[CNP2]) is None          # ClusterNetworkPolicy is v1alpha2/v1beta1
    assert crds.served_version(groups, API[CNP]) == "v2"
    assert crds.served_version(groups, API[CALICO]) is None         # Calico not installed


def _diagnose(recording: str) -> dict:
    proc = subprocess.run([cli(), "diagnose", "--from", str(REC / f"{recording}.yaml"), "-o", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def test_recorded_policies_of_other_apis_are_named_not_ignored():
    """Recorded from the control plane with the network-policy-api CRDs and Cilium's and
    Calico's kinds served: pay's own policies of each family are named; the four other
    apps' Cilium policies and another app's Calico policy are not."""
    report = _diagnose("netpol-other-policy-apis")
    assert [f["id"] for f in report["findings"]] == ["could-not-verify"] * 3
    named = {f["facts"]["what"].split(" selecting")[0]: f["facts"]["policies"] for f in report["findings"]}
    assert named == {
        "what the Cilium policies": ["CiliumNetworkPolicy np-pay/pay-l7", "CiliumClusterwideNetworkPolicy lockdown-np-pay"],
        "what the Calico policies": ["Calico NetworkPolicy np-pay/allow-pay"],
        "what the cluster-wide admin policies (AdminNetworkPolicy API)": [
            "AdminNetworkPolicy tenant-isolation", "BaselineAdminNetworkPolicy default"]}
    calico = next(f for f in report["findings"] if "Calico" in f["facts"]["what"])
    assert [s["command"] for s in calico["fix"]] == [
        "kubectl get networkpolicies.crd.projectcalico.org allow-pay -n np-pay -o yaml"]

def test_same_named_policies_of_two_apis_are_both_kept():
    """Calico's allow-pay and Kubernetes' allow-pay share kind, namespace and name: the
    live read keeps both (keyed by apiVersion too), and each check sees its own."""
    from svcdoctor.plugins.network_policy import k8s_policies
    from svcdoctor.sources.open import evidence_from_path

    ev = evidence_from_path(REC / "netpol-other-policy-apis.yaml", None, None)
    both = [(p["apiVersion"], p["metadata"]["name"]) for p in ev.of_kind("NetworkPolicy")
            if p["metadata"]["name"] == "allow-pay"]
    assert sorted(both) == [("crd.projectcalico.org/v1", "allow-pay"), ("networking.k8s.io/v1", "allow-pay")]
    (k8s,) = [p for p in k8s_policies(ev.of_kind("NetworkPolicy")) if p["metadata"]["name"] == "allow-pay"]
    assert k8s["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
