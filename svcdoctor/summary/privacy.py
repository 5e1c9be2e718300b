"""What leaves the machine for the LLM: masked always, anonymised on request.

Masking (svcdoctor.redact.mask_text, plus the operator's ``llm.redact`` patterns) runs on
every string of the prompt, and values whose key says credential are dropped whole.

``--anonymize`` replaces the cluster's own words — namespaces, object names, workload and
app names, node names, load-balancer hostnames, IP addresses — with placeholders such as
``ANON_NS_1`` (upper case: never a valid Kubernetes name, so they cannot collide), stable
for the same evidence (so the cache still works), and puts them back in the answer.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

from .. import kube
from ..evidence import Evidence
from ..redact import MASK, SENSITIVE_NAME, mask_text

# Namespaces everyone has: naming them tells nothing about this cluster.
WELL_KNOWN = {"default", "kube-system", "kube-public", "kube-node-lease"}
NAME_LABELS = ("app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "k8s-app", "component", "name")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])")
_EDGE = r"(?<![A-Za-z0-9_-]){}(?![A-Za-z0-9_-])"


def mask(value: Any, extra: Iterable[re.Pattern[str]] = ()) -> Any:
    """``value`` (strings, lists, mappings) with credentials masked."""
    if isinstance(value, str):
        return mask_text(value, extra)
    if isinstance(value, list):
        return [mask(v, extra) for v in value]
    if isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and SENSITIVE_NAME.search(k) else mask(v, extra)
                for k, v in value.items()}
    return value


class Anonymizer:
    """Placeholders for this evidence's names and addresses, and the way back."""

    def __init__(self, evidence: Evidence) -> None:
        names: dict[str, str] = {}
        for kind, values in sorted(_identifiers(evidence).items()):
            for i, value in enumerate(sorted(values), 1):
                names.setdefault(value, f"ANON_{kind}_{i}")
        self.forward = names
        self._ips: dict[str, str] = {}
        self._pattern = self._compile()

    def _compile(self) -> re.Pattern[str] | None:
        if not self.forward:
            return None
        # Longest first, each escaped: "web-api" before "web", a "." in a name is a dot.
        alternatives = sorted(self.forward, key=lambda s: (-len(s), s))
        return re.compile("|".join(_EDGE.format(re.escape(a)) for a in alternatives))

    def hide(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._hide_text(value)
        if isinstance(value, list):
            return [self.hide(v) for v in value]
        if isinstance(value, dict):
            return {k: self.hide(v) for k, v in value.items()}
        return value

    def _hide_text(self, text: str) -> str:
        text = _IPV4.sub(self._ip, text)
        text = _IPV6.sub(self._ip, text)
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.forward[m.group(0)], text)
        return text

    def _ip(self, m: re.Match[str]) -> str:
        raw = m.group(0)
        try:
            ipaddress.ip_address(raw)
        except ValueError:
            return raw  # a version number, not an address
        return self._ips.setdefault(raw, f"ANON_IP_{len(self._ips) + 1}")

    def restore(self, text: str) -> str:
        back = {v: k for k, v in self.forward.items()} | {v: k for k, v in self._ips.items()}
        if not back:
            return text
        pattern = re.compile("|".join(re.escape(p) for p in sorted(back, key=len, reverse=True)))
        return pattern.sub(lambda m: back[m.group(0)], text)

    @property
    def placeholders(self) -> dict[str, str]:
        """placeholder → original, for --show-prompt."""
        return {v: k for k, v in {**self.forward, **self._ips}.items()}


def _identifiers(ev: Evidence) -> dict[str, set[str]]:
    """Names by kind: NS, SVC, POD, NODE, APP (workloads and name-like label values), HOST."""
    out: dict[str, set[str]] = {k: set() for k in ("NS", "SVC", "POD", "NODE", "APP", "OBJ", "HOST")}
    kinds = {"Service": "SVC", "Pod": "POD", "Node": "NODE"}
    for obj in ev.items:
        ns, name = kube.namespace(obj), kube.name(obj)
        if ns and ns not in WELL_KNOWN:
            out["NS"].add(ns)
        if name:
            out[kinds.get(obj.get("kind", ""), "OBJ")].add(name)
        if obj.get("kind") == "Pod":
            out["APP"].add(kube.workload(obj).split(" ", 1)[-1])
            for key in NAME_LABELS:
                if kube.labels(obj).get(key):
                    out["APP"].add(kube.labels(obj)[key])
    out["APP"] |= set(ev.selector.values())
    status = (ev.service.get("status") or {}).get("loadBalancer") or {}
    out["HOST"] |= {i["hostname"] for i in status.get("ingress") or [] if i.get("hostname")}
    external = (ev.service.get("spec") or {}).get("externalName")
    if external:
        out["HOST"].add(external)
    # A value is hidden once, under its first kind; names too short to be names stay.
    seen: set[str] = set()
    for kind in ("NS", "SVC", "NODE", "POD", "APP", "HOST", "OBJ"):
        out[kind] = {v for v in out[kind] - seen if len(v) >= 2 and v not in WELL_KNOWN}
        seen |= out[kind]
    return {k: v for k, v in out.items() if v}
