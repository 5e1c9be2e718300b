"""Tier 1: in a crowded namespace the fix names the intended app, or no fix command is offered.

Each recording was made on the real control plane from tests/crowded_scenarios.py. The
expected apps below come from the scenarios' stories (which app the Service is for), and
the pods the suggested selector would select are counted from the recorded pods, not from
svcdoctor's own verdict.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import scenarios  # noqa: F401  (defines the scenarios crowded_scenarios extends)
from crowded_scenarios import CROWDED
from svcdoctor.diagnose import diagnose
from svcdoctor.sources.open import evidence_from_path

REC = Path(__file__).resolve().parents[1] / "svcdoctor" / "recordings"


def replay(name: str):
    return diagnose(evidence_from_path(REC / f"{name}.yaml", None, None))


def finding(name: str, fid: str):
    (f,) = [f for f in replay(name).findings if f.id == fid]
    return f


def pods_of(name: str, namespace: str) -> list[dict]:
    doc = yaml.safe_load((REC / f"{name}.yaml").read_text())
    return [o for o in doc["items"] if o["kind"] == "Pod" and o["metadata"]["namespace"] == namespace]


def owner(pod: dict) -> str:
    """The Deployment a pod belongs to (its ReplicaSet's name minus the pod-template-hash),
    or the pod itself when nothing owns it."""
    refs = pod["metadata"].get("ownerReferences")
    if not refs:
        return f"pod/{pod['metadata']['name']}"
    return refs[0]["name"][: -len(pod["metadata"]["labels"]["pod-template-hash"]) - 1]


def selected_deployments(name: str, namespace: str, selector: dict[str, str]) -> set[str]:
    return {owner(p) for p in pods_of(name, namespace)
            if all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())}


def patches(f) -> list[str]:
    return [s.command for s in f.fix if " patch " in s.command]


def selector_patch(f) -> dict:
    """The selector a user gets by pasting the one patch command offered."""
    (cmd,) = patches(f)
    payload = json.loads(re.search(r" -p '([^']*)'", cmd).group(1))
    return {k: v for k, v in payload["spec"]["selector"].items() if v is not None}


# --- the scenarios really are crowded ---------------------------------------------------

@pytest.mark.parametrize("sc", CROWDED, ids=[s.name for s in CROWDED])
def test_recording_holds_a_crowded_namespace(sc):
    apps = {owner(p) for p in pods_of(sc.name, sc.namespace)} - {"pod/checkout-debug"}
    assert len(apps) >= 15, sorted(apps)
    # recorded with what the scenario expects
    assert yaml.safe_load((REC / f"{sc.name}.yaml").read_text())["expect"]["findings"] == sc.expect


# --- a typo and a stale value: the patch names the intended app --------------------------

@pytest.mark.parametrize("name, namespace, intended", [
    ("crowded-selector-typo", "crowded-typo", "checkout"),       # app=chekout
    ("crowded-selector-renamed", "crowded-rename", "orders"),    # app=orders-v1
])
def test_patch_names_the_intended_app(name, namespace, intended):
    f = finding(name, "selector-matches-no-pods")
    new = selector_patch(f)
    assert new == {"app": intended}
    assert f.facts["suggested_selector"] == f"app={intended}"
    # pasted, it selects the intended Deployment's pods and nobody else's
    assert selected_deployments(name, namespace, new) == {intended}
    assert f"app={intended}" in f.explanation
    assert not f.facts["candidates"]


def test_typo_lookalikes_are_not_offered():
    f = finding("crowded-selector-typo", "selector-matches-no-pods")
    for other in ("checkout-worker", "chat", "cart", "auth"):
        assert f'"{other}"' not in " ".join(patches(f))


# --- a prefix of two apps: both listed, no patch ------------------------------------------

def test_prefix_of_two_apps_offers_no_patch():
    f = finding("crowded-selector-prefix", "selector-matches-no-pods")
    assert patches(f) == []
    assert not f.facts["suggested_selector"] and not f.facts["suggested_patch"]
    candidates = " ".join(f.facts["candidates"])
    assert "web-frontend" in candidates and "web-backend" in candidates
    # the Service is called web-frontend
    assert f.facts["name_suggests"] == "Deployment web-frontend"
    assert "suggests Deployment web-frontend" in f.explanation


def test_prefix_of_two_apps_gives_inspection_commands():
    f = finding("crowded-selector-prefix", "selector-matches-no-pods")
    cmds = [s.command for s in f.fix]
    inspect = [c for c in cmds if "get pods -l 'app in (" in c]
    assert len(inspect) == 1
    listed = set(re.search(r"app in \(([^)]*)\)", inspect[0]).group(1).split(","))
    assert listed == {"web-frontend", "web-backend"}
    assert any("pod template" in s.text for s in f.fix)


# --- a longer name is another component, not the fix ---------------------------------------

def test_a_component_of_the_app_is_not_offered_as_the_fix():
    # Service loyalty selects app=loyalty; only loyalty-ui runs
    f = finding("crowded-selector-component", "selector-matches-no-pods")
    assert patches(f) == []
    assert "loyalty-ui" in f.facts["component_workload"]
    assert "loyalty-ui" in " ".join(f.facts["near_misses"])


# --- the Service's name and the selector's value disagree ---------------------------------

def test_a_copied_selector_is_not_patched_to_the_app_it_was_copied_from():
    # Service checkout selects app=cart-v1 (copied from cart's manifest)
    f = finding("crowded-selector-copied", "selector-matches-no-pods")
    assert patches(f) == []
    assert f.facts["value_suggests"] == "Deployment cart"
    assert f.facts["name_points_at"] == "Deployment checkout"
    cmds = [s.command for s in f.fix]
    (inspect,) = [c for c in cmds if "'app in (" in c]
    assert set(re.search(r"app in \(([^)]*)\)", inspect).group(1).split(",")) == {"cart", "checkout"}


# --- the fix would select another workload too ---------------------------------------------

def test_a_selector_that_would_also_select_a_debug_pod_is_not_offered():
    # app=chekout,tier=web: checkout's pods carry app=checkout and no tier; a debug pod
    # carries app=checkout,tier=debug, so app=checkout would select it as well
    name = "crowded-selector-debug-pod"
    assert selected_deployments(name, "crowded-debug", {"app": "checkout"}) == {"checkout", "pod/checkout-debug"}
    f = finding(name, "selector-matches-no-pods")
    assert patches(f) == []
    assert f.facts["rejected_selector"] == "app=checkout"
    assert f.facts["also_selects"] == ["Pod checkout-debug"]
    assert any(s.command.endswith("get pods -l app=checkout --show-labels") for s in f.fix)


# --- named targetPort among many declared ports -------------------------------------------

def port_finding(port: str):
    (f,) = [f for f in replay("crowded-target-port").findings
            if f.id == "target-port-name-not-found" and f.facts["port"].startswith(port + " ")]
    return f


def test_target_port_typo_is_patched_to_the_declared_name():
    f = port_finding("http")                     # targetPort htpp
    (cmd,) = patches(f)
    ops = json.loads(re.search(r" -p '([^']*)'", cmd).group(1))
    assert ops == [{"op": "replace", "path": "/spec/ports/0/targetPort", "value": "http"}]


def test_target_port_equally_close_names_offer_no_patch():
    f = port_finding("grpc")                     # grpc-api and grpc-web
    assert patches(f) == []
    assert set(f.facts["candidate_names"]) == {"grpc-api", "grpc-web"}
    assert "grpc-api" in f.explanation and "grpc-web" in f.explanation


def test_target_port_closest_name_with_the_wrong_protocol_offers_no_patch():
    f = port_finding("syslog")                   # sylog on TCP; syslog is declared as UDP only
    assert patches(f) == []
    assert f.facts["unusable_name"] == "syslog"
    assert not f.facts["closest_name"]


# --- selector-too-broad: which workload is the main one -------------------------------------

def test_too_broad_main_workload_is_the_one_the_service_is_named_after():
    # team=checkout: checkout (2 pods) and checkout-worker (3 pods); the Service is checkout
    f = finding("crowded-selector-too-broad", "selector-too-broad")
    assert f.facts["main_workload"] == "Deployment checkout"
    new = selector_patch(f)
    assert new["team"] == "checkout"
    assert selected_deployments("crowded-selector-too-broad", "crowded-broad", new) == {"checkout"}


def test_too_broad_without_a_main_workload_offers_no_patch():
    # tier=backend: four apps of one pod each, and a Service called backend
    f = finding("crowded-selector-too-broad-unclear", "selector-too-broad")
    assert patches(f) == []
    assert not f.facts["main_workload"]
    assert len(f.facts["workloads"]) == 4


# --- pods in other namespaces: the one the Service's name points at -------------------------

def test_other_namespace_home_is_the_named_workloads():
    # app=payments runs in crowded-payments (Deployment payments, 2 pods) and in
    # crowded-loadtest (Deployment payments-loadtest, 3 pods)
    f = finding("crowded-pods-in-other-namespace", "selector-pods-in-other-namespace")
    assert f.facts["pod_namespace"] == "crowded-payments"
    cmds = " ".join(s.command for s in f.fix)
    assert "crowded-payments" in cmds and "crowded-loadtest" not in cmds
    assert "crowded-loadtest" in f.explanation      # listed, not chosen


def test_other_namespace_lookalike_here_is_not_patched_in():
    # payments-ui in the Service's own namespace looks close, but the labels are right
    f = finding("crowded-pods-in-other-namespace", "selector-matches-no-pods")
    assert f.caused_by == "selector-pods-in-other-namespace"
    assert patches(f) == []


# --- a crowded cluster: 200 nodes ------------------------------------------------------------

def test_the_node_that_is_down_among_200():
    """The report names exactly the NotReady node holding an endpoint, and its fix commands
    touch only that node and its pod, among 200 nodes (one of which holds nothing of ours)."""
    from crowded_scenarios import DOWN, GPU_NODES

    doc = yaml.safe_load((REC / "crowded-node-notready.yaml").read_text())
    nodes = [o for o in doc["items"] if o["kind"] == "Node"]
    assert len(nodes) == 200
    on_down = [p["metadata"]["name"] for p in doc["items"]
               if p["kind"] == "Pod" and p["spec"].get("nodeName") == DOWN]
    assert len(on_down) == 1  # the scenario's story: one pod per gpu node
    f = finding("crowded-node-notready", "endpoints-on-notready-node")
    assert f.severity.value == "warning"  # 3 of 4 endpoints still serve
    assert f.facts["nodes"] == [DOWN] and f.facts["pods"] == on_down
    assert (f.facts["affected"], f.facts["total"]) == (1, len(GPU_NODES))
    named = {n for step in f.fix for n in re.findall(r"\bpool-\d{3}\b", step.command + step.text)}
    assert named <= {DOWN}, named
    readiness = finding("crowded-node-notready", "some-endpoints-not-ready")
    assert readiness.caused_by == "endpoints-on-notready-node"
