"""Which load-balancer implementations this cluster shows, from the evidence alone.

Sources of proof, strongest first: a controller acting on this very Service (its events),
the controller's own pods (kube-system), and the nodes' providerID (managed clouds run
their cloud controller off-cluster). MetalLB and k3s ServiceLB are detected by their own
plugins (metallb, servicelb), which read their APIs and pods. Something that
may or may not do load balancing (Cilium, whose LB IPAM is optional) is reported as
uncertain, so no check claims "nothing implements this" on its account.
"""

from __future__ import annotations

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Ref
from svcdoctor.loadbalancers import AWS_LBC_CLASS

# providerID schemes whose cloud controllers implement LoadBalancer Services.
CLOUDS = {"aws", "gce", "azure", "openstack", "digitalocean", "linode", "vsphere", "ibm", "oci",
          "hcloud", "exoscale", "scaleway", "alicloud", "huaweicloud", "tencentcloud", "equinixmetal",
          "packet", "cloudstack", "kubevirt", "ovhcloud", "upcloud", "vultr", "civo"}
# event source component -> implementation acting on the Service
ACTING = {"service-controller": "cloud controller"}
AWS_LBC_REASONS = {"FailedBuildModel", "FailedDeployModel", "SuccessfullyReconciled",
                   "FailedAddFinalizer", "FailedUpdateStatus"}


def _system_pods(ev: Evidence) -> list[dict]:
    return ev.of_kind("Pod", "kube-system")


def _args(pod: dict) -> list[str]:
    return [a for c in (pod.get("spec") or {}).get("containers") or []
            for a in (c.get("command") or []) + (c.get("args") or [])]


def _pod_ref(pod: dict, why: str) -> Ref:
    return Ref("field", kube.ref(pod), f"{kube.ref(pod)} {why}")


@hookimpl
def detect_lb_implementations(evidence: Evidence, found) -> None:
    ev = evidence
    # 1. Controllers acting on this Service.
    for e in ev.events_for("Service", ev.target.name):
        src = kube.event_source(e)
        if src in ACTING:
            found(ACTING[src], evidence=[Ref.event(e, ev)])
        elif src == "service" and e.get("reason") in AWS_LBC_REASONS:
            found("AWS Load Balancer Controller", classes=(AWS_LBC_CLASS,), default=False,
                  evidence=[Ref.event(e, ev)])
    # 2. Their pods.
    for pod in _system_pods(ev):
        name, args = kube.name(pod), _args(pod)
        if "cloud-controller-manager" in name:
            found("cloud controller", evidence=[_pod_ref(pod, "runs the cloud controller manager")])
        if name.startswith("kube-controller-manager"):
            for a in args:
                if a.startswith("--cloud-provider=") and a.split("=", 1)[1] not in ("", "external"):
                    found(f"cloud controller ({a.split('=', 1)[1]})",
                          evidence=[_pod_ref(pod, f"runs with {a}")])
        if name.startswith("aws-load-balancer-controller"):
            cls = next((a.split("=", 1)[1] for a in args if a.startswith("--load-balancer-class=")),
                       AWS_LBC_CLASS)
            found("AWS Load Balancer Controller", classes=(cls,), default=False,
                  evidence=[_pod_ref(pod, "runs the AWS Load Balancer Controller")])
        if name.startswith("kube-vip"):
            found("kube-vip", classes=("kube-vip.io/kube-vip-class",),
                  evidence=[_pod_ref(pod, "runs kube-vip")])
        if name.startswith("cilium-") and not name.startswith("cilium-operator"):
            found("Cilium LB IPAM", certain=False,
                  evidence=[_pod_ref(pod, "runs Cilium, whose LB IPAM may serve LoadBalancer Services")])
    # 3. Nodes initialised by a cloud controller (managed clouds run it off-cluster).
    schemes = {}
    for node in ev.nodes.values():
        pid = (node.get("spec") or {}).get("providerID") or ""
        scheme = pid.split("://", 1)[0] if "://" in pid else ""
        if scheme in CLOUDS:
            schemes.setdefault(scheme, node)
    for scheme, node in schemes.items():
        found(f"cloud controller ({scheme})", evidence=[
            Ref.field(node, "spec.providerID", (node.get("spec") or {}).get("providerID"))])
