"""Which Ingress rules and HTTPRoute rules a URL selects, from the objects alone.

Ingress (networking.k8s.io/v1): a rule's host is exact or ``*.suffix`` (one label);
no host matches every host. Paths: Exact, Prefix (element-wise on ``/``), and
ImplementationSpecific (read as Prefix, which is what ingress-nginx does without regex
annotations). The most specific match wins: exact host over wildcard over none, then
Exact over Prefix, then the longest path. HTTPRoute: ``hostnames`` (empty = every host of
the listener), ``matches[].path`` PathPrefix (default ``/``), Exact or RegularExpression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import kube
from ..errors import UsageError
from ..kube import Obj
from .refs import BackendRef, backends


@dataclass(frozen=True)
class URL:
    scheme: str
    host: str
    port: int
    path: str

    def __str__(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        port = f":{self.port}" if self.port != default else ""
        return f"{self.scheme}://{self.host}{port}{self.path}"


_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")


def parse(text: str) -> URL:
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"malformed URL {text!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"malformed URL {text!r}: use http:// or https://")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or not _HOST.match(host) and not _is_ip(host):
        raise UsageError(f"malformed URL {text!r}: {host!r} is not a host name")
    return URL(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), parts.path or "/")


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _host_rank(pattern: str, host: str) -> int | None:
    """3 exact, 2 wildcard, 1 no host; None when it does not match."""
    if not pattern:
        return 1
    pattern = pattern.lower()
    if pattern.startswith("*."):
        rest = host[: -len(pattern) + 1] if host.endswith(pattern[1:]) else ""
        return 2 if rest and "." not in rest else None
    return 3 if pattern == host else None


def _prefix(prefix: str, path: str) -> bool:
    want = [p for p in prefix.split("/") if p]
    have = [p for p in path.split("/") if p]
    return have[: len(want)] == want


def _path_rank(kind: str, value: str, path: str) -> tuple[int, int] | None:
    value = value or "/"
    if kind == "Exact":
        return (2, len(value)) if path == value else None
    if kind == "RegularExpression":
        try:
            return (1, len(value)) if re.fullmatch(value, path) else None
        except re.error:
            return None
    return (1, len(value.rstrip("/"))) if _prefix(value, path) else None


@dataclass(frozen=True)
class Match:
    obj: Obj
    refs: tuple[BackendRef, ...]   # the backends of the matched rule
    rank: tuple[int, int, int]
    describe: str                  # "host shop.example.com, path /cart (Prefix)"


def ingress_matches(ing: Obj, url: URL) -> list[Match]:
    out = []
    spec = ing.get("spec") or {}
    refs = backends(ing)
    for i, rule in enumerate(spec.get("rules") or []):
        hr = _host_rank(str(rule.get("host") or ""), url.host)
        if hr is None:
            continue
        for j, p in enumerate((rule.get("http") or {}).get("paths") or []):
            kind = str(p.get("pathType") or "Prefix")
            pr = _path_rank("Exact" if kind == "Exact" else "Prefix", str(p.get("path") or "/"), url.path)
            if pr is None:
                continue
            pointer = f"/spec/rules/{i}/http/paths/{j}/backend/service"
            mine = tuple(r for r in refs if r.pointer == pointer)
            out.append(Match(ing, mine, (hr, *pr),
                             f"host {rule.get('host') or '*'}, path {p.get('path') or '/'} ({kind})"))
    if not out and spec.get("defaultBackend"):
        # "requests that don't match any rule": any host, any path (a catch-all)
        out.append(Match(ing, tuple(r for r in refs if r.default), (0, 0, 0), "default backend"))
    return out


def _listens(route: Obj, url: URL, gateways: list[Obj]) -> bool:
    """Does some parent Gateway listen where the URL goes (port, scheme, hostname)?"""
    from . import gateway as gw

    want = {"http": ("HTTP",), "https": ("HTTPS", "TLS")}[url.scheme]
    for parent in gw.parents(route, gateways):
        if parent.gateway is None:
            continue
        for lst in gw.listeners(parent.gateway, parent.section, parent.port):
            host = str(lst.get("hostname") or "")
            if lst.get("port") == url.port and str(lst.get("protocol")) in want and (
                    not host or gw.host_matches(host, url.host)):
                return True
    return False


def route_matches(route: Obj, url: URL, gateways: list[Obj] | None = None) -> list[Match]:
    """The route's rules that match; with ``gateways`` known, only if a parent Gateway
    listens on the URL's port and scheme for its host."""
    if gateways and not _listens(route, url, gateways):
        return []
    spec = route.get("spec") or {}
    hosts = [str(h) for h in spec.get("hostnames") or []]
    hr = max((r for r in (_host_rank(h, url.host) for h in hosts) if r), default=None) if hosts else 1
    if hr is None:
        return []
    refs = backends(route)
    out = []
    for i, rule in enumerate(spec.get("rules") or []):
        for m in rule.get("matches") or [{}]:
            path = m.get("path") or {}
            kind = str(path.get("type") or "PathPrefix")
            pr = _path_rank({"PathPrefix": "Prefix"}.get(kind, kind), str(path.get("value") or "/"), url.path)
            if pr is None:
                continue
            mine = tuple(r for r in refs if r.pointer.startswith(f"/spec/rules/{i}/"))
            out.append(Match(route, mine, (hr, *pr),
                             f"hostnames {', '.join(hosts) or '*'}, path {path.get('value') or '/'} ({kind})"))
    return out


def best(matches: list[Match]) -> list[Match]:
    """The most specific match for each object kind family (Ingress; routes): they are served
    by different front doors, so both are candidates."""
    out = []
    for family in (lambda m: m.obj.get("kind") == "Ingress", lambda m: m.obj.get("kind") != "Ingress"):
        mine = [m for m in matches if family(m)]
        if mine:
            top = max(m.rank for m in mine)
            out += [m for m in mine if m.rank == top]
    return out


def select(fronts: list[Obj], url: URL, gateways: list[Obj] | None = None) -> list[Match]:
    """The rules a request for ``url`` reaches. Ingress controllers listen on 80 and 443;
    routes are checked against their Gateways' listeners when those are known."""
    matches: list[Match] = []
    for obj in fronts:
        if obj.get("kind") == "Ingress" and url.port in (80, 443):
            matches += ingress_matches(obj, url)
        elif obj.get("kind") in ("HTTPRoute", "GRPCRoute"):
            matches += route_matches(obj, url, gateways)
    return best(matches)


def hosts_served(fronts: list[Obj]) -> list[str]:
    out: list[str] = []
    for obj in fronts:
        spec = obj.get("spec") or {}
        if obj.get("kind") == "Ingress":
            out += [str(r.get("host")) for r in spec.get("rules") or [] if r.get("host")]
        else:
            out += [str(h) for h in spec.get("hostnames") or []]
    return sorted(set(out))


def describe_front(obj: Obj) -> str:
    return kube.ref(obj)
