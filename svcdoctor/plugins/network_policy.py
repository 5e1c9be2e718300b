"""NetworkPolicy on the real path to the Service's pods: do the clients that must reach
them — the Ingress controller or Gateway data plane in front, the nodes for NodePort and
LoadBalancer traffic — get through, on the port the pods listen on; can the pods still
reach the cluster DNS; and does the network plugin enforce policies at all.

Reads (``plan_reads``, live only): NetworkPolicies in all namespaces (one list), then the
Namespaces' labels when a policy selects by namespace. Evaluation: svcdoctor.netpol."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator
from urllib.parse import quote

from svcdoctor import hookimpl, kube
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.kube import Obj
from svcdoctor.netpol import cni, crds, dns
from svcdoctor.netpol.dns import DNS_LABEL
from svcdoctor.netpol.clients import Client, l7_clients, missing_named, named_clients, namespace_obj, node_clients
from svcdoctor.netpol.evaluate import Endpoint, evaluate, isolating, peer_matches

CRIT, WARN, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO


@hookimpl
def plan_reads(evidence: Any, read: Callable[..., None]) -> None:
    if evidence.target.kind != "Service":
        return
    for c in evidence.clients:   # the named client pods, each by name
        if c.get("pod") and c.get("namespace") not in ("", evidence.target.namespace):
            read("Pod", f"/api/v1/namespaces/{quote(c['namespace'], safe='')}/pods?fieldSelector="
                 + quote(f"metadata.name={c['pod']}", safe=""), f"get pod {c['pod']} in namespace {c['namespace']}")
    if not evidence.was_collected("NetworkPolicy") and not any(g.kind == "NetworkPolicy" for g in evidence.gaps):
        read("NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies", "list NetworkPolicies in all namespaces")
        return
    # Namespace labels matter only for the policies evaluated here: those of the Service's
    # namespace (its pods' ingress and egress) and of the named clients (their egress).
    relevant = {evidence.target.namespace} | {c.get("namespace") for c in evidence.clients if c.get("namespace")}
    everywhere = dns.is_cluster_dns(evidence.service)   # the DNS Service: every namespace's egress
    uses_namespaces = any(
        peer.get("namespaceSelector") is not None
        for p in k8s_policies(evidence.of_kind("NetworkPolicy")) if everywhere or kube.namespace(p) in relevant
        for key, peers in (("ingress", "from"), ("egress", "to"))
        for rule in (p.get("spec") or {}).get(key) or [] for peer in rule.get(peers) or [])
    if uses_namespaces and not evidence.was_collected("Namespace"):
        read("Namespace", "/api/v1/namespaces", "list Namespaces")


def _selector_text(sel: Obj | None) -> str:
    sel = sel or {}
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    parts += [f"{e.get('key')} {e.get('operator')} {','.join(e.get('values') or [])}".strip()
              for e in sel.get("matchExpressions") or []]
    return ", ".join(parts) or "{} (every pod in the namespace)"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _policies(ev: Evidence) -> list[Obj]:
    return k8s_policies(ev.of_kind("NetworkPolicy"))


def k8s_policies(objs: list[Obj]) -> list[Obj]:
    """NetworkPolicy of networking.k8s.io, not Calico's kind of the same name."""
    return [p for p in objs if crds.group_of(p) in ("networking.k8s.io", "")]


def _endpoint_pods(ev: Evidence) -> list[Obj]:
    pods = [p for p in ev.selected_pods if not kube.pod_terminating(p)]
    return sorted(pods, key=lambda p: not kube.pod_ready(p))


def _target_ports(ev: Evidence, pod: Obj) -> list[tuple[Obj, int, str]]:
    """(Service port, the pod's port number, protocol) — policies apply after the DNAT."""
    out = []
    for sp in kube.service_ports(ev.service):
        tp, proto = kube.target_port(sp), kube.port_protocol(sp)
        if isinstance(tp, str):
            nums = [n for _c, name, n, pr in kube.declared_ports(pod) if name == tp and pr == proto]
            if not nums:
                continue
            tp = nums[0]
        out.append((sp, int(tp), proto))
    return out


def _ns_of(ev: Evidence, pod: Obj) -> Obj:
    return namespace_obj(ev, kube.namespace(pod))


def _clients(ev: Evidence) -> list[Client]:
    return named_clients(ev) + l7_clients(ev) + node_clients(ev)


def _near_peer(policies: list[Obj], client: Client) -> tuple[Obj, int, int, str, Any] | None:
    """The peer that almost admits the client: (policy, rule, peer index, what it lacks, patch op)."""
    c = client.endpoint
    if not c.is_pod:
        return None
    for pol in policies:
        for i, rule in enumerate((pol.get("spec") or {}).get("ingress") or []):
            for j, peer in enumerate(rule.get("from") or []):
                pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
                if pod_sel is not None and ns_sel is None and kube.namespace(pol) != c.ns_name \
                        and kube.label_selector_matches(pod_sel, kube.labels(c.pod or {})):
                    return (pol, i, j, f"a podSelector alone selects pods in the policy's own namespace "
                            f"({kube.namespace(pol)}), and the client runs in {c.ns_name}",
                            {"op": "add", "path": f"/spec/ingress/{i}/from/{j}/namespaceSelector",
                             "value": {"matchLabels": {"kubernetes.io/metadata.name": c.ns_name}}})
                if ns_sel is not None and (pod_sel is None or kube.label_selector_matches(pod_sel, kube.labels(c.pod or {}))):
                    wanted = (ns_sel.get("matchLabels") or {})
                    have = kube.labels(c.namespace or {})
                    lacking = {k: v for k, v in wanted.items() if have.get(k) != v}
                    if lacking and not ns_sel.get("matchExpressions"):
                        return (pol, i, j, f"namespace {c.ns_name} lacks the label "
                                + ", ".join(f"{k}={v}" for k, v in lacking.items()), ("label", lacking))
    return None


def _identity(pod: Obj) -> dict[str, str]:
    """The labels that pick the client's pods without picking everything."""
    lbl = kube.labels(pod)
    for keys in (("app.kubernetes.io/name", "app.kubernetes.io/component"), ("app.kubernetes.io/name",),
                 ("app",), ("k8s-app",)):
        if all(k in lbl for k in keys):
            return {k: lbl[k] for k in keys}
    return {}


def _verdicts(ev: Evidence, client: Client) -> Iterator[tuple[Obj, Obj, int, str, Any]]:
    """(endpoint pod, Service port, pod port, protocol, verdict) for the first endpoint pod."""
    for pod in _endpoint_pods(ev)[:1]:
        dst = Endpoint.of_pod(pod, _ns_of(ev, pod))
        for sp, port, proto in _target_ports(ev, pod):
            yield pod, sp, port, proto, evaluate(_policies(ev), client.endpoint, dst, port, proto)


def _peers_admit(policies: list[Obj], client: Client) -> list[tuple[Obj, int, Obj]]:
    """Rules whose peers admit the client, whatever their ports: (policy, index, rule)."""
    out = []
    for pol in policies:
        for i, rule in enumerate((pol.get("spec") or {}).get("ingress") or []):
            peers = rule.get("from")
            if not peers or any(peer_matches(p, pol, client.endpoint)[0] for p in peers):
                out.append((pol, i, rule))
    return out


def _denied(ev: Evidence) -> Iterator[tuple[Client, Obj, Obj, int, str, Any, list]]:
    """Each client the pods' ingress policies drop, with the rules that admit it on other
    ports (for wrong_port) — (client, pod, Service port, port, protocol, verdict, rules)."""
    if not _policies(ev) or not ev.selected_pods:
        return
    for client in _clients(ev):
        for pod, sp, port, proto, v in _verdicts(ev, client):
            if not v.ingress.allowed:
                yield client, pod, sp, port, proto, v, _peers_admit(v.ingress.policies, client)
                break


def blocks_client(ev: Evidence) -> Iterator[Finding]:
    for client, pod, sp, port, proto, v, admitting in _denied(ev):
        if admitting:
            continue  # admitted on other ports: wrong_port says it
        names = [f"{kube.namespace(p)}/{kube.name(p)}" for p in v.ingress.policies]
        facts: dict[str, Any] = {
            "client": client.why, "client_kind": client.kind,
            "client_kind_words": {"ingress-controller": "the Ingress controller", "gateway": "the Gateway",
                                  "node": "the nodes (NodePort / load-balancer traffic)"}.get(client.kind, "a client"),
            "pod": kube.name(pod), "port": port, "protocol": proto,
            "service_port": kube.port_label(sp), "policies": names, "policy": kube.name(v.ingress.policies[0]),
            "policy_namespace": kube.namespace(v.ingress.policies[0])}
        near = _near_peer(v.ingress.policies, client)
        refs = [Ref.field(p, "spec.podSelector", _selector_text((p.get("spec") or {}).get("podSelector")))
                for p in v.ingress.policies[:3]]
        if near is not None:
            pol, i, j, lacks, op = near
            facts.update(near_policy=kube.name(pol), near_rule=f"ingress[{i}].from[{j}]", lacks=lacks)
            if isinstance(op, dict):
                facts["patch"] = _json([op])
                facts["policy"] = kube.name(pol)
            else:
                facts["label"] = " ".join(f"{k}={v}" for k, v in op[1].items())
                facts["client_namespace"] = client.endpoint.ns_name
        elif client.endpoint.is_pod:
            ident = _identity(client.endpoint.pod or {})
            peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": client.endpoint.ns_name}},
                    **({"podSelector": {"matchLabels": ident}} if ident else {})}
            facts["patch"] = _json([{"op": "add", "path": "/spec/ingress/-",
                                     "value": {"from": [peer], "ports": [{"port": port, "protocol": proto}]}}])
        else:
            facts["node_ip"] = client.endpoint.ip
        yield Finding("network-policy-blocks-client", CRIT, f"Service {ev.target}", facts, refs)


def wrong_port(ev: Evidence) -> Iterator[Finding]:
    for client, pod, sp, port, proto, v, admitting in _denied(ev):
        if admitting:
            pol, i, rule = admitting[0]
            allowed = [str(p.get("port")) + ("-" + str(p["endPort"]) if p.get("endPort") else "")
                       + "/" + str(p.get("protocol") or "TCP") for p in rule.get("ports") or []]
            mistaken = next((k for k, p in enumerate(rule.get("ports") or [])
                             if p.get("port") in (sp.get("port"), sp.get("nodePort"), sp.get("name"))), None)
            facts = {"client": client.why, "pod": kube.name(pod), "port": port, "protocol": proto,
                     "service_port": kube.port_label(sp), "policy": kube.name(pol), "policy_namespace": kube.namespace(pol),
                     "rule": f"ingress[{i}]", "allowed_ports": ", ".join(allowed),
                     "node_port": sp.get("nodePort") if mistaken is not None and (rule["ports"][mistaken].get("port")
                                                                                  == sp.get("nodePort")) else None,
                     "patch": _json([{"op": "replace", "path": f"/spec/ingress/{i}/ports/{mistaken}/port", "value": port}])
                     if mistaken is not None else None}
            yield Finding("network-policy-wrong-port", CRIT, f"Service {ev.target}", facts,
                          [Ref.field(pol, f"spec.ingress[{i}].ports", ", ".join(allowed))])
            return


def _dns_rule() -> Obj:
    return {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {DNS_LABEL[0]: DNS_LABEL[1]}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def _service_ip_facts(ev: Evidence, policies: list[Obj], dns_pods: list[Obj]) -> dict[str, Any]:
    """The rule that admits 53 to the DNS Service IP (or another single address) instead of the pods."""
    spec = ev.service.get("spec") or {}
    service_ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"] \
        if dns.is_cluster_dns(ev.service) else []
    hit = dns.service_ip_rule(policies, [str((p.get("status") or {}).get("podIP") or "") for p in dns_pods],
                              service_ips)
    if hit is None:
        return {}
    pol, i, cidr = hit
    return {"ip_rule": f"{kube.namespace(pol)}/{kube.name(pol)} egress[{i}]", "ip_rule_cidr": cidr}


def blocks_dns(ev: Evidence) -> Iterator[Finding]:
    policies = _policies(ev)
    if not policies:
        return
    if dns.is_cluster_dns(ev.service):
        yield from _dns_excluded(ev, policies)
        return
    dns_pods = dns.dns_pods(ev.of_kind("Pod", "kube-system"))
    pods = _endpoint_pods(ev)
    if not dns_pods or not pods:
        return
    pod = pods[0]
    dst = Endpoint.of_pod(dns_pods[0], _ns_of(ev, dns_pods[0]))
    blocked = dns.blocked_protocols(policies, Endpoint.of_pod(pod, _ns_of(ev, pod)), dst)
    if not blocked:
        return
    pol = isolating(policies, pod, "Egress")[0]
    yield Finding("network-policy-blocks-dns", WARN, f"Service {ev.target}",
                  {"who": f"The pods of {ev.target}", "pod": kube.name(pod), "blocked": " and ".join(blocked),
                   "policy": kube.name(pol), "policy_namespace": kube.namespace(pol), "dns_pod": kube.name(dns_pods[0]),
                   "dns_ip": (dns_pods[0].get("status") or {}).get("podIP"),
                   "patch": _json([{"op": "add", "path": "/spec/egress/-", "value": _dns_rule()}]),
                   **_service_ip_facts(ev, isolating(policies, pod, "Egress"), dns_pods)},
                  [Ref.field(pol, "spec.policyTypes", ", ".join((pol.get("spec") or {}).get("policyTypes") or []))])


def _dns_excluded(ev: Evidence, policies: list[Obj]) -> Iterator[Finding]:
    """The target is the cluster DNS: the namespaces whose egress policies leave it out."""
    dns_pods = [p for p in _endpoint_pods(ev) if kube.pod_ready(p)]
    if not dns_pods:
        return
    dst = Endpoint.of_pod(dns_pods[0], _ns_of(ev, dns_pods[0]))
    excluded = dns.excluded_namespaces(policies, dst, lambda ns: namespace_obj(ev, ns))
    if not excluded:
        return
    first = excluded[0]
    listed = [f"{e.namespace} (NetworkPolicy {kube.name(e.policy)}, {e.selector}; "
              f"{' and '.join('53/' + p for p in e.blocked)})" for e in excluded]
    yield Finding("network-policy-blocks-dns", WARN, f"Service {ev.target}",
                  {"who": f"Pods in {len(excluded)} namespace{'s' if len(excluded) > 1 else ''}",
                   "excluded": listed[:8] + ([f"and {len(listed) - 8} more"] if len(listed) > 8 else []),
                   "namespaces": [e.namespace for e in excluded], "blocked": " and ".join(first.blocked),
                   "policy": kube.name(first.policy), "policy_namespace": first.namespace,
                   "dns_pod": kube.name(dns_pods[0]), "dns_ip": (dns_pods[0].get("status") or {}).get("podIP"),
                   "patch": _json([{"op": "add", "path": "/spec/egress/-", "value": _dns_rule()}]),
                   **_service_ip_facts(ev, [e.policy for e in excluded], dns_pods)},
                  [Ref.field(e.policy, "spec.policyTypes", ", ".join((e.policy.get("spec") or {}).get("policyTypes") or []))
                   for e in excluded[:4]])


def blocks_egress(ev: Evidence) -> Iterator[Finding]:
    """A named client's own egress policies do not admit the Service's pods on their port."""
    for missing in missing_named(ev):
        yield Finding("could-not-verify", INFO, f"client pod {missing}",
                      {"what": f"whether client pod {missing} reaches the Service",
                       "reason": "the pod is not in the evidence (not found, or not readable)"})
    if not _policies(ev) or not ev.selected_pods:
        return
    for client in named_clients(ev):
        if not client.endpoint.is_pod:
            continue
        for pod, sp, port, proto, v in _verdicts(ev, client):
            if v.egress.allowed:
                continue
            pol = v.egress.policies[0]
            rule = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ev.target.namespace}},
                            "podSelector": {"matchLabels": ev.selector}}],
                    "ports": [{"port": port, "protocol": proto}]}
            yield Finding("network-policy-blocks-egress", CRIT, f"Service {ev.target}",
                          {"client": client.why, "pod": kube.name(pod), "port": port, "protocol": proto,
                           "service_port": kube.port_label(sp), "policy": kube.name(pol),
                           "policy_namespace": kube.namespace(pol),
                           "policies": [f"{kube.namespace(p)}/{kube.name(p)}" for p in v.egress.policies],
                           "patch": _json([{"op": "add", "path": "/spec/egress/-", "value": rule}])},
                          [Ref.field(pol, "spec.podSelector", _selector_text((pol.get("spec") or {}).get("podSelector")))])
            break


def not_enforced(ev: Evidence) -> Iterator[Finding]:
    pods = _endpoint_pods(ev)
    if not pods or not ev.was_collected("NetworkPolicy"):
        return
    selecting = {kube.name(p) for pod in pods for d in ("Ingress", "Egress") for p in isolating(_policies(ev), pod, d)}
    plugin = cni.detect(ev.of_kind("Pod", "kube-system") + ev.of_kind("Pod", "kube-flannel"))
    if not selecting or plugin is None or plugin.enforces is not False:
        return
    yield Finding("network-policy-not-enforced", INFO, f"Service {ev.target}",
                  {"policies": sorted(selecting), "plugin": plugin.name, "note": plugin.note},
                  [Ref("field", "kube-system", f"network plugin: {plugin.name}")])


@hookimpl
def register_checks(register: Any) -> None:
    register(blocks_client, emits=("network-policy-blocks-client",))
    register(wrong_port, emits=("network-policy-wrong-port",))
    register(blocks_dns, emits=("network-policy-blocks-dns",))
    register(blocks_egress, emits=("network-policy-blocks-egress", "could-not-verify"))
    register(not_enforced, emits=("network-policy-not-enforced",))
