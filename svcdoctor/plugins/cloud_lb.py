"""The cloud's own view of a LoadBalancer Service's load balancer: does it exist, do its
listeners and target groups match the Service, are its targets healthy where ready
endpoints run, do the nodes' security groups admit its health checks.

Collection: plugins/cloud_reads.py (live only); the data is recorded and replayed. Checks
below read only that data and the Kubernetes evidence. Reason codes: ``cloud_lb_reasons.yaml``.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterator

from svcdoctor import hookimpl, kube, tables
from svcdoctor.cloud import aws_names
from svcdoctor.cloud.gcp import parse_provider_id as gcp_names
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.wording import fill

CRIT, WARN, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
HEALTHY = {"healthy", "InService", "HEALTHY"}
UNHEALTHY = {"unhealthy", "unhealthy.draining", "OutOfService", "UNHEALTHY"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
CONTROLLER = {("aws", "in-tree"): "the AWS cloud provider's service controller",
              ("aws", "lbc"): "the AWS Load Balancer Controller",
              ("gcp", "in-tree"): "the GCE cloud provider's service controller",
              ("azure", "in-tree"): "cloud-provider-azure's service controller"}
LB_KIND = {"classic": "Classic ELB", "network": "Network Load Balancer", "application": "Application Load Balancer",
           "target-pool": "network load balancer (target pool)", "backend-service": "load balancer (backend service)",
           "azure": "load balancer"}
CLOUD_NAME = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


def reasons() -> tuple[dict[str, Any], ...]:
    return tables.bundled("svcdoctor.plugins", "cloud_lb_reasons.yaml")


def _cloud(ev: Evidence) -> dict[str, Any] | None:
    """The cloud's recorded view of the load balancer (whichever cloud read it)."""
    if ev.target.kind != "Service" or kube.service_type(ev.service) != "LoadBalancer":
        return None
    for name in ("aws", "gcp", "azure"):
        data = ev.external.get(name)
        if isinstance(data, dict) and "found" in data:
            return {**data, "cloud": name}
    return None


def _vendor(data: dict[str, Any]) -> dict[str, str]:
    """Whose load balancer: gates the cloud's own links and CLI commands in the playbooks."""
    cloud_name = str(data.get("cloud") or "aws")
    return {"provider": CLOUD_NAME.get(cloud_name, cloud_name), cloud_name: "yes", "region": data.get("region")}


def _lb_words(data: dict[str, Any]) -> str:
    lb = data.get("load_balancer") or {}
    kind = LB_KIND.get(str(lb.get("type") or data.get("lb_type")), "load balancer")
    return f"{kind} {lb['name']}" if lb.get("name") else kind


# --- could not verify ------------------------------------------------------------------------

def unverified(ev: Evidence) -> Iterator[Finding]:
    if ev.target.kind != "Service":
        return
    for name, data in sorted(ev.external.items()):
        if not isinstance(data, dict):
            continue
        for err in (data.get("errors") or [])[:5]:
            action, code = err.get("action") or "", err.get("code") or "error"
            facts: dict[str, Any] = {
                "what": f"the {name.upper()} load balancer's own state"
                        + (f" ({action.split(':')[-1]})" if action else ""),
                "reason": (f"{action} was denied ({code})" if code in DENIED else
                           f"{action + ': ' if action else ''}{code}: {err.get('message') or ''}".rstrip(": "))}
            if code in DENIED:
                facts["remedy"] = (f"Allow {action} to the {name.upper()} identity svcdoctor runs as (read-only; "
                                   "the README's \"Cloud load balancers\" gives the whole policy). It is:")
                facts["remedy_command"] = {"aws": "aws sts get-caller-identity", "gcp": "gcloud auth list",
                                           "azure": "az account show"}.get(name, "")
            elif code == "NotInstalled":
                facts["remedy"], facts["remedy_command"] = "Install the AWS client:", "pip install 'svcdoctor[aws]'"
            yield Finding("could-not-verify", INFO, f"Service {ev.target}", facts,
                          [Ref("field", f"cloud {name}", f"{action or name}: {code}")])


# --- the load balancer is gone -----------------------------------------------------------------

def not_found(ev: Evidence) -> Iterator[Finding]:
    data = _cloud(ev)
    if data is None or data.get("found") is not False or data.get("errors"):
        return
    status = [i.get("hostname") or i.get("ip") for i in
              ((ev.service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]
    how = {"name": "by the name the controller gives it", "annotation": "by its aws-load-balancer-name annotation",
           "hostname": "by the name in its status hostname", "dns-scan": "by its DNS name"}.get(
               str(data.get("found_by")), "")
    yield Finding("lb-not-found-in-cloud", CRIT, f"Service {ev.target}",
                  {**_vendor(data), "address": status[0] if status else None, "looked_for": data.get("looked_for"), "how": how,
                   "where": f" in {data['region']}" if data.get("region") else
                            f" in resource group {data['resource_group']}" if data.get("resource_group") else "",
                   "controller": CONTROLLER.get((str(data.get("cloud")), str(data.get("controller")))),
                   "lb_kind": LB_KIND.get(str(data.get("lb_type")), "load balancer"),
                   "name": ev.target.name},
                  [Ref.field(ev.service, "status.loadBalancer.ingress", ", ".join(str(s) for s in status)),
                   Ref("field", f"{data['cloud']} {data.get('region')}", f"{data.get('looked_for')}: not found")])


# --- listeners and target ports ---------------------------------------------------------------

def listener_mismatch(ev: Evidence) -> Iterator[Finding]:
    data = _cloud(ev)
    if data is None or not data.get("load_balancer") or data.get("listeners") is None:
        return
    ports = kube.service_ports(ev.service)
    wanted = {int(p["port"]) for p in ports if isinstance(p.get("port"), int)}
    have = {int(li["port"]) for li in data["listeners"] if isinstance(li.get("port"), int)}
    missing, extra = sorted(wanted - have), sorted(have - wanted)
    target_type = str(data.get("target_type") or "instance")
    node_ports = {p.get("nodePort") for p in ports if p.get("nodePort")}
    target_ports = {kube.target_port(p) for p in ports if isinstance(kube.target_port(p), int)}
    wrong_tg = []
    if data.get("lb_type") == "classic":   # each listener names its instance port itself
        sends = [(f"listener {li.get('port')}", li.get("instance_port"), "instance") for li in data["listeners"]]
    else:
        sends = [(f"target group {tg.get('name')}", tg.get("port"), tg.get("target_type") or target_type)
                 for tg in data.get("target_groups") or []]
    for what, port, kind in sends:
        expected, words = (node_ports, "nodePort") if kind == "instance" else (target_ports, "targetPort")
        if isinstance(port, int) and expected and port not in expected:
            wrong_tg.append(f"{what} sends to port {port}, which is no {words} of the Service "
                            f"({', '.join(str(e) for e in sorted(expected))})")
    health = _health_ports(ev, data, node_ports, target_type)
    wrong_tg += health
    hc_key = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"
    hc_annotation = hc_key if health and hc_key in (kube.meta(ev.service).get("annotations") or {}) else None
    if not missing and not wrong_tg:
        return
    yield Finding("lb-listener-mismatch", CRIT, f"Service {ev.target}",
                  {**_vendor(data), "lb": _lb_words(data), "missing": [str(p) for p in missing] or None,
                   "extra": [str(p) for p in extra] or None, "target_groups": wrong_tg or None,
                   "service_ports": ", ".join(kube.port_label(p) for p in ports),
                   "hc_annotation": hc_annotation, "name": ev.target.name},
                  [Ref.field(ev.service, "spec.ports", ", ".join(kube.port_label(p) for p in ports)),
                   Ref("field", f"{data['cloud']} {_lb_words(data)}", "listeners: " + (", ".join(
                       f"{li.get('protocol')}:{li.get('port')}" for li in data["listeners"]) or "none"))])


def _health_ports(ev: Evidence, data: dict[str, Any], node_ports: set, target_type: str) -> list[str]:
    """Health checks on a port nothing answers on: for instance targets a node answers only
    on the NodePorts, healthCheckNodePort and kube-proxy's 10256; for ip targets, on the
    ports the pods declare."""
    hc_node_port = (ev.service.get("spec") or {}).get("healthCheckNodePort")
    out = []
    for tg in data.get("target_groups") or []:
        port = str((tg.get("health_check") or {}).get("port") or "")
        if not port.isdigit():
            continue   # "traffic-port", or not read
        instance = (tg.get("target_type") or target_type) == "instance"
        answers = (node_ports | {hc_node_port, 10256, tg.get("port")}) if instance else \
            {n for p in ev.selected_pods for _c, _name, n, _proto in kube.declared_ports(p)} | {tg.get("port")}
        answers.discard(None)
        if answers and int(port) not in answers:
            what = "the nodes answer on " + ", ".join(str(a) for a in sorted(answers)) if instance else \
                "the pods declare " + ", ".join(str(a) for a in sorted(answers))
            out.append(f"the health check of {tg.get('name')} probes port {port}, but {what}")
    return out


# --- target health ------------------------------------------------------------------------------

def _node_of(ev: Evidence) -> dict[str, str]:
    """Target id → node: an EC2 instance id, or a GCE instance name, from the providerID."""
    out = {}
    for name, node in ev.nodes.items():
        pid = str((node.get("spec") or {}).get("providerID") or "")
        located = gcp_names(pid)
        iid = aws_names.instance_id(pid) or (located[2] if located else None)
        if iid:
            out[iid] = name
    return out


def _translate(target: dict[str, Any], tg: dict[str, Any]) -> dict[str, Any] | None:
    hc = tg.get("health_check") or {}
    port = hc.get("port")
    facts = {"port": tg.get("port") if port in (None, "traffic-port") else port,
             "protocol": hc.get("protocol") or tg.get("protocol") or "TCP", "path": hc.get("path") or "/"}
    for key in (target.get("reason"), target.get("description")):
        entry, _groups = tables.search(reasons(), str(key or "")) if key else (None, {})
        if entry is not None:
            return {"id": entry["id"], "cause": fill(entry["cause"], facts) or entry["cause"],
                    "fix": [fill(step["text"], facts) or step["text"] for step in entry.get("fix") or []]}
    return None


def _targets(ev: Evidence, data: dict[str, Any]) -> list[tuple[dict, dict, str | None]]:
    """(target, its target group, the node it runs on) for every target read."""
    nodes = _node_of(ev)
    pods = {str((p.get("status") or {}).get("podIP")): kube.pod_node(p) for p in ev.selected_pods}
    out = []
    for tg in data.get("target_groups") or []:
        for t in tg.get("targets") or []:
            tid = str(t.get("id"))   # Azure's reader names the node itself
            out.append((t, tg, nodes.get(tid) or pods.get(tid) or (tid if tid in ev.nodes else None)))
    return out


def _pod_named(ev: Evidence, ip: str) -> str | None:
    return next((kube.name(p) for p in ev.selected_pods if (p.get("status") or {}).get("podIP") == ip), None)


def _local(ev: Evidence) -> bool:
    return (ev.service.get("spec") or {}).get("externalTrafficPolicy") == "Local"


def _state_line(t: dict, node: str | None, pod: str | None = None) -> str:
    where = f" (pod {pod} on node {node})" if pod else f" (node {node})" if node and node != t.get("id") else ""
    parts = [str(t.get("id")) + where, str(t.get("state"))]
    if t.get("reason") and t.get("reason") != "N/A":
        parts.append(str(t["reason"]))
    if t.get("description") and t.get("description") != "N/A":
        parts.append(str(t["description"]))
    return ": ".join(parts[:2]) + (" — " + ", ".join(parts[2:]) if parts[2:] else "")


def no_healthy_targets(ev: Evidence) -> Iterator[Finding]:
    data = _cloud(ev)
    if data is None or not data.get("load_balancer"):
        return
    groups = [tg for tg in data.get("target_groups") or [] if tg.get("targets") is not None]
    if not groups:
        return
    targets = _targets(ev, data)
    if any(t.get("state") in HEALTHY for t, _tg, _n in targets) or any(tg.get("unread") for tg in groups):
        return   # one healthy target, or some never read (a capped read): "none is healthy" would be a guess
    lb_type = str((data.get("load_balancer") or {}).get("type") or data.get("lb_type"))
    first = next(((t, tg) for t, tg, _n in targets if t.get("state") in UNHEALTHY), None) or \
        (targets[0][:2] if targets else (None, groups[0]))
    meaning = _translate(first[0], first[1]) if first[0] else None
    fail_open = {"network": "An NLB whose targets all fail fails open: it sends traffic to every target anyway, "
                            "so clients reach nodes that may drop it.",
                 "application": "An ALB whose targets all fail fails open: it sends traffic to every target anyway.",
                 "classic": "A Classic ELB sends nothing to unhealthy instances: every connection fails."}.get(lb_type)
    yield Finding("lb-no-healthy-targets", CRIT, f"Service {ev.target}",
                  {**_vendor(data), "lb": _lb_words(data), "count": len(targets), "registered": "yes" if targets else None,
                   "none_registered": "yes" if not targets else None,
                   "states": [_state_line(t, n, _pod_named(ev, str(t.get("id")))) for t, _tg, n in targets[:8]],
                   "cause": meaning["cause"] if meaning else None,
                   "reason_fix": meaning["fix"][0] if meaning and meaning["fix"] else None,
                   "translation": meaning["id"] if meaning else None, "fail_open": fail_open,
                   "local": "yes" if _local(ev) and not ev.ready_endpoint_nodes() else None,
                   "target_group": groups[0].get("name")},
                  [Ref("field", f"{data['cloud']} {_lb_words(data)}", _state_line(t, n, _pod_named(ev, str(t.get("id"))))) for t, _tg, n in targets[:4]]
                  or [Ref("field", f"{data['cloud']} {_lb_words(data)}", f"target group {groups[0].get('name')}: no targets")],
                  caused_by=("lb-security-group-blocks", "lb-listener-mismatch"))


def targets_unhealthy(ev: Evidence) -> Iterator[Finding]:
    data = _cloud(ev)
    if data is None or not data.get("load_balancer"):
        return
    targets = _targets(ev, data)
    unread = any(tg.get("unread") for tg in data.get("target_groups") or [])
    if not any(t.get("state") in HEALTHY for t, _tg, _n in targets) and not unread:
        return   # none healthy: no_healthy_targets says it
    with_endpoints = ev.ready_endpoint_nodes()
    instance = str(data.get("target_type") or "instance") == "instance"
    by_design, faults = [], []
    for t, tg, node in targets:
        if t.get("state") in HEALTHY or t.get("state") in ("draining", "initial"):
            continue
        if instance and _local(ev) and node and node not in with_endpoints and t.get("state") in UNHEALTHY:
            by_design.append((t, tg, node))
        else:
            faults.append((t, tg, node))
    if not faults and not by_design:
        return
    # Only by design (externalTrafficPolicy Local, nodes without an endpoint): info, as the
    # probe checks say it; the nodes that matter are healthy.
    shown = faults or by_design
    meaning = _translate(shown[0][0], shown[0][1]) if faults else None
    yield Finding("lb-targets-unhealthy", WARN if faults else INFO, f"Service {ev.target}",
                  {**_vendor(data), "lb": _lb_words(data), "unhealthy": len(shown), "total": len(targets),
                   "only_by_design": "yes" if not faults else None,
                   "states": [_state_line(t, n, _pod_named(ev, str(t.get("id")))) for t, _tg, n in shown[:8]],
                   "with_endpoints": [n for _t, _tg, n in faults if n in with_endpoints][:8] or None,
                   "by_design": len(by_design) if faults and by_design else None,
                   "by_design_only": len(by_design) if not faults else None,
                   "cause": meaning["cause"] if meaning else None,
                   "reason_fix": meaning["fix"][0] if meaning and meaning["fix"] else None,
                   "translation": meaning["id"] if meaning else None},
                  [Ref("field", f"{data['cloud']} {_lb_words(data)}", _state_line(t, n, _pod_named(ev, str(t.get("id"))))) for t, _tg, n in shown[:4]],
                  caused_by=("lb-security-group-blocks", "lb-listener-mismatch"))


# --- security groups ----------------------------------------------------------------------------

def _admits(rule: dict[str, Any], port: int, sources: list[str], lb_groups: list[str]) -> bool:
    proto = str(rule.get("protocol"))
    if proto not in ("tcp", "6", "-1"):
        return False
    if proto != "-1" and not (isinstance(rule.get("from"), int) and isinstance(rule.get("to"), int)
                              and rule["from"] <= port <= rule["to"]):
        return False
    if set(rule.get("groups") or []) & set(lb_groups):
        return True
    nets = []
    for cidr in rule.get("cidrs") or []:
        try:
            nets.append(ipaddress.ip_network(str(cidr), strict=False))
        except (ValueError, TypeError):
            continue
    # every source range must be inside one of the rule's ranges (a rule per subnet is usual)
    try:
        return bool(sources) and all(any(ipaddress.ip_network(src, strict=False).subnet_of(n) for n in nets
                                         if n.version == ipaddress.ip_network(src, strict=False).version)
                                     for src in sources)
    except (ValueError, TypeError):
        return False


def security_groups(ev: Evidence) -> Iterator[Finding]:
    """Only where the health checks fail: the health says the rules matter, the rules say why."""
    data = _cloud(ev)
    if data is None or not data.get("load_balancer") or data.get("node_security_groups") is None:
        return
    failing = [(t, tg, n) for t, tg, n in _targets(ev, data) if t.get("state") in UNHEALTHY and n
               and not (_local(ev) and n not in ev.ready_endpoint_nodes())]
    if not failing:
        return
    t, tg, node = failing[0]
    hc = tg.get("health_check") or {}
    port = hc.get("port")
    if port in (None, "traffic-port"):
        port = tg.get("port")
    try:
        port = int(port)
    except (TypeError, ValueError):
        return
    lb = data.get("load_balancer") or {}
    lb_groups = [str(g) for g in lb.get("security_groups") or []]
    sources = [str(c) for c in data.get("lb_subnet_cidrs") or []]
    instances = data.get("instances") if isinstance(data.get("instances"), dict) else {}
    iid = str(t.get("id"))
    node_groups = [str(g) for g in instances.get(iid) or [] if isinstance(g, str)]
    groups = [g for g in data["node_security_groups"] if g.get("id") in node_groups]
    gcp = data["cloud"] == "gcp"
    if data["cloud"] == "azure" or (not groups and not gcp) or not (lb_groups or sources):
        return   # GCP: no firewall rule at all applies to the nodes is a finding too
    if any(_admits(r, port, sources, lb_groups) for g in groups for r in g.get("rules") or []):
        return
    if gcp:
        tags = [str(x) for x in data.get("target_tags") or []]
        source = "Google's health-check ranges (" + ", ".join(sources) + ")"
        command = (f"gcloud compute firewall-rules create k8s-{lb.get('name')}-http-hc --direction INGRESS "
                   f"--network {data.get('network') or 'default'} --allow tcp:{port} --source-ranges {','.join(sources)}"
                   + (f" --target-tags {','.join(tags)}" if tags else ""))
        more = None
    else:
        source = (f"security group {lb_groups[0]}" if lb_groups
                  else "the load balancer's subnets (" + ", ".join(sources) + ")")
        command = (f"aws ec2 authorize-security-group-ingress --group-id {groups[0]['id']} --protocol tcp --port {port} "
                   + (f"--source-group {lb_groups[0]}" if lb_groups else f"--cidr {sources[0]}"))
        more = sources[1:] if not lb_groups else None
    yield Finding("lb-security-group-blocks", CRIT, f"Service {ev.target}",
                  {**_vendor(data), "lb": _lb_words(data), "port": port, "node": node, "instance": iid,
                   "barrier": "VPC firewall rules" if gcp else "nodes' security groups",
                   "groups": [f"{g.get('id')} ({g.get('name')})" for g in groups] if not gcp else None,
                   "rules": ([str(g.get("id")) for g in groups[:8]] + ([f"{len(groups) - 8} more"] if len(groups) > 8 else [])
                             or ["none"]) if gcp else None,
                   "network": data.get("network") if gcp else None,
                   "source": source, "command": command, "more_cidrs": more or None,
                   "health": _state_line(t, node)},
                  [Ref("field", f"{data['cloud']} {g.get('id')}", f"{g.get('id')} ({g.get('name')}): " + (", ".join(
                      f"{r.get('protocol')} {r.get('from')}-{r.get('to')} from "
                      + ", ".join((r.get("cidrs") or []) + (r.get("groups") or [])) for r in g.get("rules") or [])
                      or "no ingress rules")) for g in groups[:3]]
                  + [Ref("field", f"{data['cloud']} {_lb_words(data)}", _state_line(t, node))])


@hookimpl
def register_checks(register: Any) -> None:
    register(unverified, emits=("could-not-verify",))
    register(not_found, emits=("lb-not-found-in-cloud",))
    register(listener_mismatch, emits=("lb-listener-mismatch",))
    register(no_healthy_targets, emits=("lb-no-healthy-targets",))
    register(targets_unhealthy, emits=("lb-targets-unhealthy",))
    register(security_groups, emits=("lb-security-group-blocks",))
