"""Where an L7 probe may go: the addresses the Ingress and Gateway status give for the
references in focus, with the rule's Host header and a path it matches. Used by the L7
probe plugin to plan and by the prober to refuse anything else."""

from __future__ import annotations

from typing import Any

from . import gateway as gw
from .refs import BackendRef

MAX_L7_PROBES = 8


def _tls_hosts(ing: dict) -> set[str]:
    return {str(h) for t in (ing.get("spec") or {}).get("tls") or [] for h in t.get("hosts") or []}


def _path(ref: BackendRef) -> str:
    """A concrete path the rule matches: its prefix or exact path (not a regex)."""
    first = (ref.path or "/").split(",")[0].split(" (")[0].strip() or "/"
    return first if "RegularExpression" not in ref.path else "/"


def targets(ev: Any) -> list[tuple[str, int, str, str, str, str]]:
    """(address, port, scheme, host header, path, via) for each reference in focus."""
    out = []
    for r in ev.l7_refs:  # for a Service: its own references and the near misses meant for it
        host = next((h for h in r.hosts if not h.startswith("*.")), "")
        if r.owner.get("kind") == "Ingress":
            for a in ((r.owner.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                addr = a.get("ip") or a.get("hostname")
                if addr:
                    tls = host and host in _tls_hosts(r.owner)
                    out.append((str(addr), 443 if tls else 80, "https" if tls else "http", host, _path(r), r.owner_ref))
        elif r.owner.get("kind") in ("HTTPRoute", "GRPCRoute"):
            for parent in gw.parents(r.owner, ev.of_kind("Gateway")):
                if parent.gateway is None:
                    continue
                for lst in gw.listeners(parent.gateway, parent.section, parent.port):
                    if str(lst.get("protocol")) not in ("HTTP", "HTTPS"):
                        continue
                    h = host or ("" if str(lst.get("hostname", "")).startswith("*") else str(lst.get("hostname") or ""))
                    for addr in gw.addresses(parent.gateway):
                        out.append((addr, int(lst.get("port") or 80), str(lst.get("protocol")).lower(), h,
                                    _path(r), r.owner_ref))
    return list(dict.fromkeys(out))[:MAX_L7_PROBES]


def addresses(ev: Any) -> set[str]:
    """The Ingress and Gateway status addresses in focus: the only places an L7 probe goes."""
    return {a for a, *_ in targets(ev)}
