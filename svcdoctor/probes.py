"""Network probes: planned from evidence by plugins, run by the prober, replayed from recordings.

Probes only ever target addresses taken from the Service's own evidence — its nodes'
addresses, its load-balancer status, its ExternalName — on its own ports. They are bounded:
a per-probe timeout, a concurrency limit, an overall deadline, and a cap on nodes.

Outcomes (what a client sees, see failure-modes §1):
    open        TCP handshake completed (HTTP probes also record the status and body)
    refused     RST or ICMP port-unreachable: nothing listens, or a REJECT rule
    timeout     no answer at all: a DROP rule, a firewall, a dead host
    no-route    ICMP host-prohibited / EHOSTUNREACH: a host firewall's REJECT
    tls-error   the TLS handshake failed (an L7 probe to an HTTPS listener)
    unreachable ENETUNREACH: no route to that network from here
    nxdomain / servfail / no-answer   DNS
    error       anything else (with the error text)
    not-run     planned but not executed (offline input, --no-probe, deadline)
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from . import shapes

DEFAULT_TIMEOUT = 2.0
DEFAULT_CONCURRENCY = 1024
DEFAULT_MAX_NODES = 500
FAILED_TCP = ("refused", "timeout", "no-route", "unreachable", "error")


# A probe outcome as recordings hold it (checked when a recording is loaded).
SHAPE = {
    "kind": shapes.STR, "purpose": shapes.STR, "target": shapes.STR, "host": shapes.STR,
    "port": shapes.INT, "node": shapes.STR, "servicePort": shapes.STR, "path": shapes.STR,
    "outcome": shapes.STR, "latencyMs": shapes.NUMBER, "source": shapes.STR,
    "detail": {"status": shapes.INT, "localEndpoints": shapes.INT, "serviceProxyHealthy": shapes.BOOL,
               "service": shapes.STR, "body": shapes.STR, "answers": [shapes.STR],
               "canonicalName": shapes.STR, "error": shapes.STR, "reason": shapes.STR,
               "phase": shapes.STR, "scheme": shapes.STR, "hostHeader": shapes.STR, "via": shapes.STR,
               "server": shapes.STR},
}


@dataclass
class Probe:
    kind: str                   # "tcp" | "http" | "dns"
    purpose: str                # "nodeport" | "health-check" | "lb" | "external-name"
    target: str                 # host:port, or a DNS name
    host: str = ""
    port: int = 0
    node: str = ""              # the Node whose address this is
    service_port: str = ""      # the Service port (name or number) it belongs to
    path: str = ""              # HTTP path
    outcome: str = "not-run"
    latency_ms: float | None = None
    source: str = ""            # the prober's own source address for this target
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {_camel(k): v for k, v in d.items() if v not in ("", None, {}) or k == "outcome"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Probe":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in ((_snake(k), v) for k, v in d.items()) if k in known})

    def describe(self) -> str:
        """One line for evidence: 'NodePort 127.0.0.11:30080 on node-a: timeout after 2000 ms'."""
        if self.purpose == "l7":
            return self._describe_l7()
        what = {"nodeport": "NodePort", "health-check": "health check",
                "lb": "load balancer", "external-name": "DNS"}.get(self.purpose, self.purpose)
        where = f" on {self.node}" if self.node else ""
        text = f"{what} {self.target}{where}: {self.outcome}"
        if "status" in self.detail:
            text += f" HTTP {self.detail['status']}"
            if "localEndpoints" in self.detail:
                text += f", localEndpoints {self.detail['localEndpoints']}"
            if self.detail.get("serviceProxyHealthy") is False:
                text += ", serviceProxyHealthy false"
        if self.detail.get("answers"):
            text += f" → {', '.join(self.detail['answers'])}"
        if self.source and self.purpose == "lb":
            text += f" from {self.source}"
        if self.latency_ms is not None:
            text += f" after {self.latency_ms:.0f} ms" if self.outcome in ("timeout",) else f" ({self.latency_ms:.0f} ms)"
        return text


    def _describe_l7(self) -> str:
        """'Ingress shop/web: GET http://127.0.0.40:80/cart Host cart.shop.example → HTTP 503 (…)'."""
        host = f" Host {self.detail['hostHeader']}" if self.detail.get("hostHeader") else ""
        text = f"{self.detail.get('via', 'L7')}: GET {self.target}{host} → "
        if "status" in self.detail:
            from .l7.answers import meaning

            text += f"HTTP {self.detail['status']} ({meaning(self.detail['status'])})"
        else:
            text += self.outcome + (f": {self.detail['error']}" if self.detail.get("error") else "")
        if self.latency_ms is not None:
            text += f" after {self.latency_ms:.0f} ms" if self.outcome == "timeout" else f" ({self.latency_ms:.0f} ms)"
        return text


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(r.title() for r in rest)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@dataclass
class ProbeOptions:
    enabled: bool = True
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    max_nodes: int = DEFAULT_MAX_NODES
    address_type: str = "InternalIP"   # or "ExternalIP"

    @property
    def deadline(self) -> float:
        # DNS then connect is the longest chain a single probe runs.
        return self.timeout * 2 + 1.0


# --- the prober --------------------------------------------------------------------------

def run(probes: list[Probe], options: ProbeOptions) -> list[Probe]:
    """Run every probe concurrently, bounded; fills in outcome, latency, source, detail."""
    if not probes:
        return probes
    _raise_fd_limit(min(len(probes), options.concurrency) + 64)
    asyncio.run(_run_all(probes, options))
    return probes


def _raise_fd_limit(wanted: int) -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))
    except (ImportError, ValueError, OSError):
        pass  # keep the limit; the semaphore still bounds us


async def _run_all(probes: list[Probe], options: ProbeOptions) -> None:
    sem = asyncio.Semaphore(max(1, options.concurrency))

    async def one(p: Probe) -> None:
        async with sem:
            start = time.perf_counter()
            try:
                if p.kind == "tcp":
                    await _tcp(p, options.timeout)
                elif p.kind == "http":
                    await _http(p, options.timeout)
                elif p.kind == "dns":
                    await _dns(p, options.timeout)
            except Exception as exc:  # a probe failing oddly must not sink the others
                p.outcome, p.detail = "error", {**p.detail, "error": f"{type(exc).__name__}: {exc}"}
            p.latency_ms = round((time.perf_counter() - start) * 1000, 1)

    tasks = [asyncio.ensure_future(one(p)) for p in probes]
    done, pending = await asyncio.wait(tasks, timeout=options.deadline)
    for t in pending:
        t.cancel()
    for p in probes:
        if p.outcome == "not-run":
            p.detail = {**p.detail, "reason": "overall probe deadline reached"}


def source_address(host: str, port: int) -> str:
    """The local address the kernel would use to reach host — a UDP connect sends nothing."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((host, port or 9))
            return s.getsockname()[0]
    except OSError:
        return ""


def classify(exc: BaseException) -> str:
    """Map a connect error to an outcome, looking through wrapped causes (httpx, asyncio)."""
    seen = 0
    while exc is not None and seen < 6:
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError, socket.timeout)):
            return "timeout"
        if isinstance(exc, ConnectionRefusedError):
            return "refused"
        if isinstance(exc, OSError) and exc.errno is not None:
            return {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "no-route",
                    errno.ENETUNREACH: "unreachable", errno.ETIMEDOUT: "timeout"}.get(exc.errno, "error")
        name = type(exc).__name__
        if "Timeout" in name:
            return "timeout"
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return "error"


async def _tcp(p: Probe, timeout: float) -> None:
    p.source = source_address(p.host, p.port)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(p.host, p.port), timeout)
    except BaseException as exc:  # noqa: BLE001 — classified below
        if isinstance(exc, asyncio.CancelledError):
            raise
        p.outcome = classify(exc)
        if p.outcome == "error":
            p.detail = {**p.detail, "error": str(exc)}
        return
    p.source = (writer.get_extra_info("sockname") or (p.source,))[0]
    p.outcome = "open"
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 0.5)
    except (asyncio.TimeoutError, OSError):
        pass


async def _http(p: Probe, timeout: float) -> None:
    """kube-proxy's health check: GET /healthz; read status, localEndpoints, serviceProxyHealthy."""
    import httpx

    if p.purpose == "l7":
        return await _l7(p, timeout)
    p.source = source_address(p.host, p.port)
    url = f"http://{_bracket(p.host)}:{p.port}{p.path or '/healthz'}"
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            resp = await client.get(url)
    except httpx.HTTPError as exc:
        p.outcome = classify(exc)
        if isinstance(exc, httpx.ReadTimeout):
            p.outcome, p.detail = "timeout", {**p.detail, "phase": "connected, no HTTP answer"}
        elif p.outcome == "error":
            p.detail = {**p.detail, "error": str(exc)}
        return
    p.outcome = "open"
    p.detail = {**p.detail, **health_detail(resp.status_code, resp.text)}


async def _l7(p: Probe, timeout: float) -> None:
    """An Ingress / Gateway address with the rule's Host header (and SNI for HTTPS): what a
    user's browser would get. Certificates are not verified: the question is what the
    proxy answers, not whether this machine trusts it."""
    import ssl

    import httpx

    p.source = source_address(p.host, p.port)
    scheme = p.detail.get("scheme", "http")
    url = f"{scheme}://{_bracket(p.host)}:{p.port}{p.path or '/'}"
    host = p.detail.get("hostHeader") or ""
    headers = {"Host": host} if host else {}
    extensions = {"sni_hostname": host} if host and scheme == "https" else {}
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False, verify=False,
                                     follow_redirects=False) as client:
            resp = await client.get(url, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        if isinstance(exc, httpx.ConnectError) and _caused_by(exc, ssl.SSLError):
            p.outcome, p.detail = "tls-error", {**p.detail, "error": str(exc)[:200]}
            return
        p.outcome = classify(exc)
        if isinstance(exc, httpx.ReadTimeout):
            p.outcome, p.detail = "timeout", {**p.detail, "phase": "connected, no HTTP answer"}
        elif p.outcome == "error":
            p.detail = {**p.detail, "error": str(exc)[:200]}
        return
    p.outcome = "open"
    p.detail = {**p.detail, "status": resp.status_code, "body": resp.text[:200],
                **({"server": resp.headers["server"][:80]} if resp.headers.get("server") else {})}


def _caused_by(exc: BaseException | None, kind: type) -> bool:
    """Is ``kind`` anywhere in the chain of causes (httpx wraps httpcore wraps ssl)?"""
    for _ in range(8):
        if exc is None:
            return False
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def health_detail(status: int, text: str) -> dict[str, Any]:
    """What kube-proxy's health-check answer says: the status, and from its JSON body
    ``localEndpoints`` and ``serviceProxyHealthy`` (absent before kube-proxy 1.28) and the
    Service. A body that is not that JSON is kept, shortened, as ``body``."""
    detail: dict[str, Any] = {"status": status}
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        detail["body"] = text[:200]
        return detail
    local = body.get("localEndpoints")
    if isinstance(local, int) and not isinstance(local, bool):
        detail["localEndpoints"] = local
    if isinstance(body.get("serviceProxyHealthy"), bool):
        detail["serviceProxyHealthy"] = body["serviceProxyHealthy"]
    svc = body.get("service")
    if isinstance(svc, dict) and isinstance(svc.get("namespace"), str) and isinstance(svc.get("name"), str):
        detail["service"] = f"{svc['namespace']}/{svc['name']}"
    return detail


async def _dns(p: Probe, timeout: float) -> None:
    """Resolve p.target (A and AAAA); for LB probes also connect to the first answer."""
    import dns.exception
    import dns.resolver

    resolver = _resolver(timeout)
    answers: list[str] = []
    outcome = ""
    for rtype in ("A", "AAAA"):
        try:
            ans = await resolver.resolve(p.target, rtype)
            answers += [r.to_text() for r in ans]
            if ans.canonical_name.to_text().rstrip(".") != p.target.rstrip("."):
                p.detail = {**p.detail, "canonicalName": ans.canonical_name.to_text().rstrip(".")}
        except dns.resolver.NXDOMAIN:
            outcome = "nxdomain"
            break
        except dns.resolver.NoAnswer:
            continue
        except dns.resolver.NoNameservers:
            outcome = outcome or "servfail"
        except dns.exception.Timeout:
            outcome = outcome or "timeout"
    if answers:
        outcome = "open"
    p.outcome = outcome or "no-answer"
    p.detail = {**p.detail, "answers": answers}


def _resolver(timeout: float) -> Any:
    """The system's resolver (resolv.conf), as a client on that machine would ask; the
    tests point this at a DNS server of their own on loopback."""
    import dns.asyncresolver

    resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = timeout
    return resolver


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def of(items: Iterable[dict[str, Any]] | Iterable[Probe]) -> list[Probe]:
    return [p if isinstance(p, Probe) else Probe.from_dict(p) for p in items]


# Root causes on the backend side: when there is nothing to forward to, probes fail as a
# consequence, and say so.
BACKEND_ROOTS = ("selector-pods-in-other-namespace", "selector-matches-no-pods",
                 "no-selector-no-endpoints", "endpoints-on-notready-node", "no-ready-endpoints",
                 "endpoints-only-terminating", "target-port-name-not-found")


def nodes_to_probe(evidence: Any, options: ProbeOptions) -> list[tuple[str, str]]:
    """(node, address) pairs: every node holding a ready endpoint, then the others by name,
    up to ``options.max_nodes``; nodes without an address of the chosen type are skipped."""
    holding = set(evidence.ready_endpoint_nodes())
    names = sorted(evidence.nodes, key=lambda n: (n not in holding, n))
    out = []
    for name in names:
        addr = evidence.node_address(evidence.nodes[name], options.address_type)
        if addr and (len(out) < options.max_nodes or name in holding):
            out.append((name, addr))
    return out
