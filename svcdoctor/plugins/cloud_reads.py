"""Read the cloud's own view of a LoadBalancer Service's load balancer (live only): which
cloud (``--cloud``, else the nodes' providerID), and whether one of its controllers owns the
Service; the readers are svcdoctor.cloud.aws, .gcp and .azure. Checks:
plugins/cloud_lb.py."""

from __future__ import annotations

from typing import Any

from svcdoctor import cloud, hookimpl, kube
from svcdoctor.loadbalancers import AWS_LBC_CLASS, requested_class


@hookimpl
def collect_external(evidence: Any, options: Any, store: Any) -> None:
    if evidence.target.kind != "Service" or kube.service_type(evidence.service) != "LoadBalancer":
        return
    svc = evidence.service
    if not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        evidence.external_note = "no load balancer yet (status.loadBalancer is empty): nothing to read in the cloud"
        return
    which = options.cloud or cloud.detect(evidence.nodes)
    if which is None:
        evidence.external_note = "the nodes name no cloud in their providerID (use --cloud to read one)"
        return
    lb_class, _how = requested_class(svc)
    if which == "aws":
        if lb_class not in (None, AWS_LBC_CLASS):
            evidence.external_note = f"loadBalancerClass {lb_class} is not an AWS controller's: nothing to read in AWS"
            return
        from svcdoctor.cloud import aws

        store("aws", aws.read(svc, evidence.nodes, options))
    elif which == "gcp":
        if lb_class is not None and not lb_class.startswith("networking.gke.io/"):
            evidence.external_note = f"loadBalancerClass {lb_class} is not GKE's: nothing to read in GCP"
            return
        from svcdoctor.cloud import gcp

        store("gcp", gcp.read(svc, evidence.nodes, options))
    elif which == "azure":
        if lb_class is not None:
            evidence.external_note = f"loadBalancerClass {lb_class} is not cloud-provider-azure's: nothing to read"
            return
        from svcdoctor.cloud import azure

        store("azure", azure.read(svc, evidence.nodes, options))
    else:
        store(which, {"errors": [{"action": "", "code": "NotSupported",
                                  "message": f"svcdoctor does not read {which.upper()} load balancers yet"}]})
