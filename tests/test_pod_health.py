"""Host ports held by kube-proxy before 1.24: recorded from the control plane (cluster
"old-kube-proxy": kube-proxy v1.23.17 pods, a NodePort Service on 30090, a hostNetwork
agent listening on 30090 whose kubelet reports "bind: address already in use")."""

from __future__ import annotations

from pathlib import Path

from svcdoctor.diagnose import diagnose
from svcdoctor.sources.open import evidence_from_path

REC = Path(__file__).resolve().parents[1] / "svcdoctor" / "recordings" / "hostnet-port-held-by-kube-proxy.yaml"


def _report(kube_proxy_image: str | None = None):
    ev = evidence_from_path(REC, None, None)
    if kube_proxy_image is not None:   # the same cluster, with another kube-proxy
        for pod in ev.of_kind("Pod", "kube-system"):
            for c in pod["spec"]["containers"]:
                c["image"] = kube_proxy_image
    return diagnose(ev)


def test_the_nodeport_service_holding_the_port_is_named_as_the_root_cause():
    report = _report()
    assert [f.id for f in report.findings] == ["host-port-conflict", "backend-pods-crashlooping", "no-ready-endpoints"]
    conflict, crash, ready = report.findings
    assert crash.caused_by == ready.caused_by == "host-port-conflict"
    assert conflict.facts["ports"] == "30090/TCP" and conflict.facts["bind_error"] == "yes"
    node = conflict.facts["kube_proxy"].split(" on ")[1]
    assert conflict.facts["kube_proxy"] == f"v1.23.17 on {node}"
    assert conflict.facts["holders"] == [
        f"Service monitoring/grafana (nodePort 30090/TCP), held open by kube-proxy v1.23.17 on {node}"]
    assert any("another nodePort" in s.text for s in conflict.fix)


def test_kube_proxy_124_holds_no_port():
    """From 1.24 kube-proxy keeps no NodePort socket: the grafana Service is no holder, and
    the report says it sees none rather than blaming it."""
    report = _report("registry.k8s.io/kube-proxy:v1.24.0")
    (conflict,) = [f for f in report.findings if f.id == "host-port-conflict"]
    assert conflict.facts["kube_proxy"] is None and conflict.facts["holders"] is None
    assert conflict.facts["holders_unknown"] == "yes"
    assert not any("another nodePort" in s.text for s in conflict.fix)
