"""No node qualifies as a load-balancer backend.

The cloud service controller (``k8s.io/cloud-provider``) puts a node behind a load balancer
only if it has no ``node.kubernetes.io/exclude-from-external-load-balancers`` label, no
``ToBeDeletedByClusterAutoscaler`` taint, a ``spec.providerID``, and (for
externalTrafficPolicy: Cluster) Ready=True; with none left it posts
``UnAvailableLoadBalancer``. k3s ServiceLB posts the same reason. MetalLB's speakers skip
excluded nodes too, so "every node is excluded" is a finding whoever implements the load
balancer, even without the event.
"""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.loadbalancers import EXCLUDE_LABEL

AUTOSCALER_TAINT = "ToBeDeletedByClusterAutoscaler"
UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
SOURCES = ("service-controller", "service-lb-controller")
SUCCESSES = ("EnsuredLoadBalancer", "UpdatedLoadBalancer")


@hookimpl
def register_checks(register) -> None:
    register(eligible_nodes, emits=("lb-no-eligible-nodes",))


def _taints(node: dict) -> set[str]:
    return {t.get("key", "") for t in (node.get("spec") or {}).get("taints") or []}


def exclusions(node: dict, *, local: bool, cloud: bool) -> list[str]:
    """Why the node is not a load-balancer backend ([] when it is one)."""
    why = []
    if EXCLUDE_LABEL in kube.labels(node):
        why.append(f"labelled {EXCLUDE_LABEL}")
    if AUTOSCALER_TAINT in _taints(node):
        why.append(f"tainted {AUTOSCALER_TAINT} (the cluster autoscaler is removing it)")
    if cloud and not (node.get("spec") or {}).get("providerID"):
        why.append("no spec.providerID" + (" (tainted node.cloudprovider.kubernetes.io/uninitialized: the cloud "
                                           "controller has not initialised it)" if UNINITIALIZED_TAINT in _taints(node) else ""))
    if not local and kube.node_ready_status(node) != "True":
        why.append(f"not Ready ({kube.node_ready_status(node)})")
    return why


def eligible_nodes(ev: Evidence) -> Iterator[Finding]:
    svc = ev.service
    if kube.service_type(svc) != "LoadBalancer" or not ev.nodes:
        return
    events = [e for e in ev.events_for("Service", ev.target.name) if kube.event_source(e) in SOURCES]
    said = kube.latest(e for e in events if e.get("reason") == "UnAvailableLoadBalancer")
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    success = kube.latest(e for e in events if e.get("reason") in SUCCESSES)
    if said is not None and ingress and kube.seen_after(success, said):
        said = None  # it recovered since
    local = (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local"
    cloud = said is not None and kube.event_source(said) == "service-controller"
    why = {name: exclusions(node, local=local, cloud=cloud) for name, node in sorted(ev.nodes.items())}
    # Without the controller's word, only the predicates every implementation honours count.
    universal = all(any(w.startswith(("labelled", "tainted")) for w in reasons) for reasons in why.values())
    if said is None and not universal:
        return
    # With the controller's word, nodes that look eligible from here are shown as such:
    # the controller may know more (e.g. deleted nodes), svcdoctor invents no reason.
    excluded = {n: w for n, w in why.items() if w}
    labelled = sorted(n for n, w in why.items() if any(x.startswith("labelled") for x in w))
    facts = {
        "nodes": [f"{n}: {', '.join(w) if w else 'looks eligible'}" for n, w in why.items()],
        "node_count": len(why), "excluded_count": len(excluded),
        "labelled": " ".join(labelled), "first_labelled": labelled[0] if labelled else "",
        "autoscaler": "yes" if any(AUTOSCALER_TAINT in " ".join(w) for w in why.values()) else "",
        "no_provider_id": "yes" if any("providerID" in " ".join(w) for w in why.values()) else "",
        "not_ready": "yes" if any("not Ready" in " ".join(w) for w in why.values()) else "",
    }
    refs = [Ref.event(said, ev)] if said is not None else []
    if said is not None:
        facts.update({"message": kube.event_message(said), "source": kube.event_source(said),
                      "when": ev.event_span(said)})
    for name, reasons in why.items():
        node = ev.nodes[name]
        if any(r.startswith("labelled") for r in reasons):
            refs.append(Ref.field(node, f"metadata.labels[{EXCLUDE_LABEL}]", kube.labels(node)[EXCLUDE_LABEL]))
        elif reasons:
            refs.append(Ref("field", kube.ref(node), f"{kube.ref(node)}: {', '.join(reasons)}"))
    yield Finding("lb-no-eligible-nodes", Severity.CRITICAL, f"Service {ev.target} load balancer",
                  facts=facts, evidence=refs)
