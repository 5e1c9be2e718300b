"""A pending LoadBalancer: is anything in this cluster going to implement it?

Both checks speak only when every place an implementation could show up was read (the
Service's events, kube-system pods, nodes, the MetalLB API); otherwise they say what could
not be verified instead of guessing."""

from __future__ import annotations

from typing import Iterator

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.loadbalancers import requested_class

KNOWN_CLASSES = {"service.k8s.aws/nlb": "the AWS Load Balancer Controller",
                 "kube-vip.io/kube-vip-class": "kube-vip's cloud provider",
                 "io.cilium/bgp-control-plane": "Cilium", "io.cilium/l2-announcer": "Cilium"}
# Each class's own documentation: a link only where the class is the one in question.
CLASS_DOCS = {"service.k8s.aws/nlb": "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/nlb/",
              "kube-vip.io/kube-vip-class": "https://kube-vip.io/docs/usage/cloud-provider/",
              "io.cilium/bgp-control-plane": "https://docs.cilium.io/en/stable/network/lb-ipam/",
              "io.cilium/l2-announcer": "https://docs.cilium.io/en/stable/network/l2-announcements/"}


@hookimpl
def register_checks(register) -> None:
    register(ownership, emits=("lb-pending-no-controller", "lb-class-unclaimed", "could-not-verify"))


def _blind_spots(ev: Evidence) -> list[str]:
    spots = []
    if any(g.what == "list pods in namespace kube-system" for g in ev.gaps) or not ev.was_collected("Pod"):
        spots.append("the kube-system pods (cloud controller, AWS Load Balancer Controller, kube-vip, ServiceLB)")
    if not ev.was_collected("Node"):
        spots.append("the nodes' providerID (managed clouds)")
    if not ev.was_collected("IPAddressPool"):
        spots.append("the MetalLB API (IPAddressPools)")
    if not ev.was_collected("Event"):
        spots.append("the Service's events")
    return spots


def ownership(ev: Evidence) -> Iterator[Finding]:
    if kube.service_type(ev.service) != "LoadBalancer":
        return
    if ((ev.service.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return  # something implemented it
    lb_class, how = requested_class(ev.service)
    impls = ev.lb_implementations
    serving = [i for i in impls if i.certain and i.serves(lb_class)]
    if serving:
        return  # someone owns it; other checks say why it is still pending
    subject = f"Service {ev.target}"
    spots = _blind_spots(ev)
    maybe = [i for i in impls if not i.certain or (lb_class and "*" in i.classes)]
    if spots or maybe:
        reason = ("could not read " + "; ".join(spots)) if spots else (
            ", ".join(i.name for i in maybe) + " may serve it, but its configuration is not visible")
        yield Finding("could-not-verify", Severity.INFO, subject,
                      facts={"what": "which load-balancer implementation should serve this Service",
                             "reason": reason},
                      evidence=[r for i in maybe for r in i.evidence[:1]])
        return
    ports = [f"{p.get('port')}→{p.get('nodePort')}/{kube.port_protocol(p)}"
             for p in kube.service_ports(ev.service) if p.get("nodePort")]
    node = next(iter(ev.nodes.values()), None)
    node_ip = ev.node_address(node) if node else ""
    seen = [f"{i.name} (serves {', '.join(c for c in i.classes if c != '*') or 'no class'})" for i in impls]
    base = {"node_ports": ports, "node_ip": node_ip,
            "first_node_port": next((p.get("nodePort") for p in kube.service_ports(ev.service) if p.get("nodePort")), ""),
            "implementations": seen}
    status_ref = Ref.field(ev.service, "status.loadBalancer", {})
    looked = [Ref("field", "nodes", "nodes' spec.providerID: " + (", ".join(sorted(
                  {(n.get("spec") or {}).get("providerID", "<none>").split("://")[0] + "://…" for n in ev.nodes.values()}))
                  or "no nodes") + (" (a cloud controller serves only Services without a class)"
                                    if any(i.name.startswith("cloud controller") for i in impls)
                                    else " (no cloud provider)")),
              Ref("field", "metallb.io", "MetalLB API: " + ("not installed (404)" if "IPAddressPool" in ev.absent
                                                              else f"{len(ev.of_kind('IPAddressPool'))} IPAddressPools")),
              Ref("field", "kube-system", f"kube-system: {len(ev.of_kind('Pod', 'kube-system'))} pods, "
                                          "none of a load-balancer controller")]
    if lb_class:
        by_field = how.startswith("spec.")
        asked = (Ref.field(ev.service, "spec.loadBalancerClass", lb_class) if by_field else
                 Ref("field", kube.ref(ev.service), f"{kube.ref(ev.service)} is handed to {lb_class} by {how}"))
        yield Finding("lb-class-unclaimed", Severity.CRITICAL, subject,
                      facts={**base, "lb_class": lb_class, "expected": KNOWN_CLASSES.get(lb_class, ""),
                             "class_docs": CLASS_DOCS.get(lb_class, ""), "how": how,
                             "by_field": "yes" if by_field else "", "by_annotation": "" if by_field else "yes"},
                      evidence=[asked, status_ref] + looked)
    else:
        yield Finding("lb-pending-no-controller", Severity.CRITICAL, subject, facts=base,
                      evidence=[status_ref, Ref("field", kube.ref(ev.service),
                                                f"no event on {kube.ref(ev.service)} from any load-balancer controller")]
                      + looked)
