"""MetalLB: why a Service got no address, or got one that nobody announces.

MetalLB's controller allocates addresses from IPAddressPools and says so in events
(source ``metallb-controller``); its speakers announce them as L2Advertisements and
BGPAdvertisements select (source ``metallb-speaker``; ``nodeAssigned`` is the only positive
proof of an announcement). Its API lives in CRDs: when they are absent MetalLB is simply not
installed, which is not an error. Causes and fixes live in ``metallb_causes.yaml``: event
messages translated there, and the silent cases (no pool, no usable pool, no advertisement)
read from the objects themselves.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterator


from svcdoctor import hookimpl, kube, tables
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.loadbalancers import EXCLUDE_LABEL
from svcdoctor.probes import BACKEND_ROOTS
from svcdoctor.wording import cause_facts

API = "/apis/metallb.io/v1beta1/"
POOLS = ("IPAddressPool", API + "ipaddresspools", "list MetalLB IPAddressPools")
L2 = ("L2Advertisement", API + "l2advertisements", "list MetalLB L2Advertisements")
BGP = ("BGPAdvertisement", API + "bgpadvertisements", "list MetalLB BGPAdvertisements")
CONTROLLER, SPEAKER = "metallb-controller", "metallb-speaker"
FAILURES = {"AllocationFailed", "LoadBalancerFailed"}
# Annotations: current metallb.io/ names first, the deprecated metallb.universe.tf/ ones after.
ALLOCATED_POOL = ("metallb.io/ip-allocated-from-pool", "metallb.universe.tf/ip-allocated-from-pool")
REQUESTED_POOL = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")
REQUESTED_IPS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
# Give the speakers this long after an allocation before calling its silence a finding.
ANNOUNCE_GRACE_S = 60


def causes() -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in tables.bundled("svcdoctor.plugins", "metallb_causes.yaml")}


def translate(message: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    return tables.search(causes().values(), message)


# --- reading the Service and MetalLB's objects -----------------------------------------

def _annotation(svc: dict, keys: tuple[str, ...]) -> str:
    ann = kube.meta(svc).get("annotations") or {}
    return next((str(ann[k]) for k in keys if ann.get(k)), "")


def _ingress_ips(svc: dict) -> list[str]:
    return [i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if i.get("ip")]


def _pending(svc: dict) -> bool:
    return not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")


def _requested_ips(svc: dict) -> list[str]:
    ips = [s.strip() for s in _annotation(svc, REQUESTED_IPS).split(",") if s.strip()]
    legacy = (svc.get("spec") or {}).get("loadBalancerIP")
    return ips or ([legacy] if legacy else [])


def _events(ev: Evidence, *reasons: str) -> list[dict]:
    return [e for e in ev.events_for("Service", ev.target.name)
            if kube.event_source(e) in (CONTROLLER, SPEAKER) and (not reasons or e.get("reason") in reasons)]


def _announced(ev: Evidence) -> bool:
    return kube.seen_after(kube.latest(_events(ev, "nodeAssigned")), kube.latest(_events(ev, "IPAllocated")))


def _allocated_by_metallb(ev: Evidence) -> bool:
    return bool(_annotation(ev.service, ALLOCATED_POOL) or _events(ev, "IPAllocated", "nodeAssigned"))


def ranges(pool: dict) -> list[tuple[ipaddress._BaseAddress, ipaddress._BaseAddress]]:
    """A pool's spec.addresses as (first, last) pairs; CIDRs and a-b ranges."""
    out = []
    for text in (pool.get("spec") or {}).get("addresses") or []:
        try:
            if "-" in text:
                lo, hi = (ipaddress.ip_address(t.strip()) for t in text.split("-", 1))
            else:
                net = ipaddress.ip_network(text.strip(), strict=False)
                lo, hi = net[0], net[-1]
            out.append((lo, hi))
        except ValueError:
            continue
    return out


def contains(pool: dict, ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(lo.version == addr.version and lo <= addr <= hi for lo, hi in ranges(pool))  # type: ignore[operator]


def size(pool: dict) -> int:
    return sum(int(hi) - int(lo) + 1 for lo, hi in ranges(pool))


def describe_pool(pool: dict) -> str:
    spec, status = pool.get("spec") or {}, pool.get("status") or {}
    text = f"pool {kube.name(pool)}: {', '.join(spec.get('addresses') or []) or 'no addresses'} ({size(pool)} addresses)"
    if "availableIPv4" in status or "availableIPv6" in status:
        text += (f", {status.get('assignedIPv4', 0) + status.get('assignedIPv6', 0)} assigned, "
                 f"{status.get('availableIPv4', 0) + status.get('availableIPv6', 0)} available")
    return text


def _available(pool: dict) -> int | None:
    status = pool.get("status") or {}
    if "availableIPv4" not in status and "availableIPv6" not in status:
        return None  # older MetalLB: no counts in the status
    return int(status.get("availableIPv4", 0)) + int(status.get("availableIPv6", 0))


def _exclusion(pool: dict, ev: Evidence, requested_pool: str) -> str:
    """Why this pool would not serve the Service by itself ('' when it may)."""
    spec = pool.get("spec") or {}
    if requested_pool:
        return "" if kube.name(pool) == requested_pool else f"the Service asks for pool {requested_pool}"
    if spec.get("autoAssign") is False:
        return "autoAssign: false, and the Service does not name it in metallb.io/address-pool"
    alloc = spec.get("serviceAllocation") or {}
    namespaces = alloc.get("namespaces") or []
    if namespaces and not alloc.get("namespaceSelectors") and ev.target.namespace not in namespaces:
        return f"serviceAllocation.namespaces {namespaces} leaves out {ev.target.namespace}"
    selectors = alloc.get("serviceSelectors") or []
    if selectors and not any(kube.label_selector_matches(s, kube.labels(ev.service)) for s in selectors):
        return "serviceAllocation.serviceSelectors select other Services"
    return ""


def _adv_scope(adv: dict) -> str:
    spec = adv.get("spec") or {}
    scope = (f"pools {', '.join(spec['ipAddressPools'])}" if spec.get("ipAddressPools")
             else "pools chosen by label" if spec.get("ipAddressPoolSelectors") else "every pool")
    return scope + (" from the nodes its nodeSelectors pick" if spec.get("nodeSelectors") else "")


def _selects(adv: dict, pool_name: str, pools: dict[str, dict]) -> bool | None:
    """Does this advertisement cover the pool? None: it selects by labels we cannot see."""
    spec = adv.get("spec") or {}
    names, selectors = spec.get("ipAddressPools") or [], spec.get("ipAddressPoolSelectors") or []
    if not names and not selectors:
        return True  # an advertisement without a pool list covers every pool
    if pool_name in names:
        return True
    if selectors:
        if pool_name not in pools:
            return None
        return any(kube.label_selector_matches(s, kube.labels(pools[pool_name])) for s in selectors)
    return False


# --- hooks -------------------------------------------------------------------------------

@hookimpl
def plan_reads(evidence: Evidence, read) -> None:
    """Pending: the pools (MetalLB installed? which pool could serve it?). Allocated by MetalLB,
    with ready endpoints and no announcement: the advertisements. Otherwise nothing."""
    if evidence.target.kind != "Service":
        return
    ev = evidence
    if kube.service_type(ev.service) != "LoadBalancer":
        return
    if _pending(ev.service):
        read(*POOLS)
    elif (_ingress_ips(ev.service) and _allocated_by_metallb(ev) and not _announced(ev)
          and sum(ev.ready_endpoint_nodes().values()) > 0):
        read(*L2)
        read(*BGP)


@hookimpl
def detect_lb_implementations(evidence: Evidence, found) -> None:
    ev = evidence
    for e in _events(ev):
        found("MetalLB", classes=("*",), evidence=[Ref.event(e, ev)])
    pool = _annotation(ev.service, ALLOCATED_POOL)
    if pool:
        found("MetalLB", classes=("*",), evidence=[Ref.field(ev.service, "metadata.annotations", {ALLOCATED_POOL[0]: pool})])
    for pod in ev.of_kind("Pod", "kube-system") + ev.of_kind("Pod", "metallb-system"):
        if kube.name(pod).startswith("metallb-"):
            found("MetalLB", classes=("*",), evidence=[Ref("field", kube.ref(pod), f"{kube.ref(pod)} runs MetalLB")])
    pools = ev.of_kind("IPAddressPool")
    if pools or ("IPAddressPool" in ev.collected and "IPAddressPool" not in ev.absent):
        # classes "*": MetalLB may run with --lb-class, which svcdoctor cannot see from here
        found("MetalLB", classes=("*",), evidence=[
            Ref("field", "metallb.io/v1beta1", f"the MetalLB API is installed ({len(pools)} IPAddressPools)")])


@hookimpl
def register_checks(register) -> None:
    register(allocation, emits=("lb-no-address-pool", "lb-ip-pool-exhausted",
                                "lb-requested-ip-not-allowed", "lb-provisioning-failed"))
    register(announcement, emits=("lb-ip-not-announced",))


# --- checks ----------------------------------------------------------------------------

def _finding(ev: Evidence, entry: dict[str, Any], facts: dict[str, Any], evidence: list[Ref],
             severity: Severity = Severity.CRITICAL, caused_by: Any = None) -> Finding:
    base = {"namespace": ev.target.namespace, "service": ev.target.name, **facts}
    facts = {**facts, "cause_id": entry["id"], "metallb": "yes",
             "pending": "yes" if _pending(ev.service) else "", **cause_facts(entry, base)}
    return Finding(entry["finding"], severity, f"Service {ev.target} load balancer", facts=facts,
                   evidence=evidence, caused_by=caused_by)


def _event_facts(ev: Evidence, e: dict) -> dict[str, Any]:
    source = kube.event_source(e)
    return {"reason": e.get("reason"), "message": kube.event_message(e), "when": ev.event_span(e),
            "source": {CONTROLLER: "MetalLB controller", SPEAKER: "MetalLB speaker"}.get(source, source)}


def _pool_refs(pools: list[dict]) -> list[Ref]:
    return [Ref("field", kube.ref(p), describe_pool(p), {"pool": kube.name(p)}) for p in pools]


def allocation(ev: Evidence) -> Iterator[Finding]:
    """Pending under MetalLB: the controller's failure, or the silent cases."""
    svc = ev.service
    if kube.service_type(svc) != "LoadBalancer" or not _pending(svc):
        return
    pools = ev.of_kind("IPAddressPool")
    requested_pool = _annotation(svc, REQUESTED_POOL)
    pending_ref = Ref.field(svc, "status.loadBalancer", {})
    failure = kube.latest(_events(ev, *FAILURES))
    if failure is not None and not kube.seen_after(kube.latest(_events(ev, "IPAllocated")), failure):
        entry, groups = translate(kube.event_message(failure))
        facts = {**_event_facts(ev, failure), **groups}
        usable = [p for p in pools if not _exclusion(p, ev, requested_pool)]
        facts.setdefault("pool", requested_pool or (kube.name(usable[0]) if len(usable) == 1 else ""))
        facts.setdefault("ip", ", ".join(_requested_ips(svc)))
        # the pools that matter: the one the message names, else those that may serve the Service
        shown = [p for p in pools if kube.name(p) == facts["pool"]] or usable or pools
        facts["pools"] = [describe_pool(p) for p in shown]
        refs = [Ref.event(failure, ev), pending_ref] + _pool_refs(shown)
        if entry is None:  # a message nobody translated yet: quote it, never guess
            yield Finding("lb-provisioning-failed", Severity.CRITICAL, f"Service {ev.target} load balancer",
                          facts={**facts, "provider": "MetalLB", "source": "MetalLB controller",
                                 "cause_title": f"{failure.get('reason')} (not a known error)",
                                 "pending": "yes", "unknown": "yes", "translation": "unknown",
                                 "outcome": "could not be set up", "failed": "yes"},
                          evidence=refs)
            return
        yield _finding(ev, entry, facts, refs)
        return
    # MetalLB says nothing: read the pools themselves (only when it is installed).
    if (svc.get("spec") or {}).get("loadBalancerClass") or not ev.was_collected("IPAddressPool") \
            or "IPAddressPool" in ev.absent:
        return
    table = causes()
    if not pools:
        yield _finding(ev, table["no-pools"], {"pools": []},
                       [pending_ref, Ref("field", "metallb.io/v1beta1", "0 IPAddressPools in the cluster")])
        return
    outside = [ip for ip in _requested_ips(svc) if not any(contains(p, ip) for p in pools)]
    if outside:
        yield _finding(ev, table["requested-ip-outside-pools"],
                       {"ip": ", ".join(outside), "pools": [describe_pool(p) for p in pools]},
                       [Ref.field(svc, "requested address", outside[0]), pending_ref] + _pool_refs(pools))
        return
    if requested_pool and requested_pool not in {kube.name(p) for p in pools}:
        yield _finding(ev, table["unknown-pool"], {"pool": requested_pool, "pools": [describe_pool(p) for p in pools]},
                       [Ref.field(svc, f"metadata.annotations[{REQUESTED_POOL[0]}]", requested_pool), pending_ref]
                       + _pool_refs(pools))
        return
    why = {kube.name(p): _exclusion(p, ev, requested_pool) for p in pools}
    usable = [p for p in pools if not why[kube.name(p)]]
    if not usable:
        yield _finding(ev, table["no-usable-pool"],
                       {"pool": kube.name(pools[0]), "pools": [f"{describe_pool(p)}: {why[kube.name(p)]}" for p in pools]},
                       [pending_ref] + [Ref("field", kube.ref(p), f"{kube.ref(p)}: {why[kube.name(p)]}") for p in pools])
        return
    if all(_available(p) == 0 for p in usable):
        yield _finding(ev, table["pools-full"], {"pool": kube.name(usable[0]), "pools": [describe_pool(p) for p in usable]},
                       [pending_ref] + _pool_refs(usable))


def announcement(ev: Evidence) -> Iterator[Finding]:
    """Allocated by MetalLB: is anybody announcing the address?"""
    svc = ev.service
    ips = _ingress_ips(svc)
    if kube.service_type(svc) != "LoadBalancer" or not ips or not _allocated_by_metallb(ev):
        return
    table = causes()
    pools = {kube.name(p): p for p in ev.of_kind("IPAddressPool")}
    pool = _annotation(svc, ALLOCATED_POOL) or next((n for n, p in pools.items() if contains(p, ips[0])), "")
    facts: dict[str, Any] = {"ip": ips[0], "pool": pool}
    ip_ref = Ref.field(svc, "status.loadBalancer.ingress[0].ip", ips[0])
    allocated = kube.latest(_events(ev, "IPAllocated"))
    failed = kube.latest(_events(ev, "announceFailed"))
    if failed is not None and not kube.seen_after(kube.latest(_events(ev, "nodeAssigned")), failed):
        entry, groups = translate(kube.event_message(failed))
        if entry is not None:
            yield _finding(ev, entry, {**facts, **_event_facts(ev, failed), **groups}, [Ref.event(failed, ev), ip_ref])
            return
    if _announced(ev):
        return
    ready_nodes = ev.ready_endpoint_nodes()
    if not ready_nodes and ev.was_collected("EndpointSlice"):
        yield _finding(ev, table["no-ready-endpoints"], facts, [ip_ref], caused_by=BACKEND_ROOTS)
        return
    refs = [ip_ref] + ([Ref.event(allocated, ev)] if allocated else [])
    if pool and ev.was_collected("L2Advertisement", "BGPAdvertisement"):
        advs = ev.of_kind("L2Advertisement") + ev.of_kind("BGPAdvertisement")
        covering = [a for a in advs if _selects(a, pool, pools)]
        adv_refs = [Ref("field", kube.ref(a), f"{kube.ref(a)} announces {_adv_scope(a)}") for a in advs]
        if not advs or not any(_selects(a, pool, pools) is not False for a in advs):
            summary = (f"L2Advertisements: {len(ev.of_kind('L2Advertisement'))}, "
                       f"BGPAdvertisements: {len(ev.of_kind('BGPAdvertisement'))}, none for pool {pool}")
            yield _finding(ev, table["no-advertisement"], {**facts, "advertisements": summary},
                           refs + [Ref("field", "metallb.io/v1beta1", summary)] + adv_refs)
            return
        local = (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local"
        candidates = [n for n, node in ev.nodes.items() if EXCLUDE_LABEL not in kube.labels(node)
                      and (not local or n in ready_nodes)]
        eligible = [n for a in covering for n in candidates
                    if not (a.get("spec") or {}).get("nodeSelectors")
                    or any(kube.label_selector_matches(s, kube.labels(ev.nodes[n]))
                           for s in (a.get("spec") or {}).get("nodeSelectors") or [])]
        if covering and candidates and not eligible:
            yield _finding(ev, table["node-selectors-exclude"], {**facts, "candidates": candidates},
                           refs + [r for r in adv_refs])
            return
    since, basis = _allocated_at(ev, allocated)
    if since is None:
        if not _lb_answered(ev):
            yield _unverified(ev, ips[0], f"no {CONTROLLER} IPAllocated event and no status update time "
                              "is left to date the allocation (events expire after an hour), and nothing "
                              "probed the address")
        return
    age = (ev.observed_at - since).total_seconds()
    if age >= ANNOUNCE_GRACE_S:
        yield _finding(ev, table["no-announcement-event"], facts,
                       refs + [Ref("field", kube.ref(svc), f"no nodeAssigned event from {SPEAKER} on {kube.ref(svc)}")],
                       severity=Severity.WARNING)
    elif ev.observed_at_guess:
        # The capture time is a lower bound: "only 10s after the allocation" may be hours.
        yield _unverified(ev, ips[0], f"the input carries no capture time; its newest timestamp "
                          f"({ev.observed_at_guess}) is only {int(max(age, 0))}s after {basis}, and speakers get "
                          f"{ANNOUNCE_GRACE_S}s; give the capture time with --observed-at")


def _allocated_at(ev: Evidence, allocated: dict | None) -> tuple[Any, str]:
    """When MetalLB gave the Service its address, at the latest: the IPAllocated event, else
    the last update of the Service's status (its managedFields, when the input kept them)."""
    if allocated is not None and kube.event_last_seen(allocated) is not None:
        return kube.event_last_seen(allocated), "the IPAllocated event"
    updates = [kube.parse_time(m.get("time")) for m in kube.meta(ev.service).get("managedFields") or []
               if m.get("subresource") == "status"]
    updates = [t for t in updates if t is not None]
    return (max(updates), "the Service's last status update") if updates else (None, "")


def _lb_answered(ev: Evidence) -> bool:
    return any(p.purpose == "lb" and p.outcome == "open" for p in ev.probe_results)


def _unverified(ev: Evidence, ip: str, reason: str) -> Finding:
    return Finding("could-not-verify", Severity.INFO, f"announcement of {ip}",
                   facts={"what": f"whether a MetalLB speaker announces {ip} for Service {ev.target}",
                          "reason": reason},
                   evidence=[Ref("gap", kube.ref(ev.service), reason)])
