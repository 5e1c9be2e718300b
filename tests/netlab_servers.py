"""Every listener of a NetLab, served by one asyncio process inside the lab's netns.

Started by ``tests/netlab.py`` as ``ip netns exec <lab> python3 netlab_servers.py [CONFIG]``.
CONFIG is a JSON object ``{"listeners": [<spec>, ...]}`` (inline, or ``@path``); the
process binds every listener, prints ``ready`` on stdout, then serves.

Control protocol (so listeners can be added while it runs): one JSON object per line
on stdin, one JSON reply per line on stdout::

    {"op": "add", "listener": <spec>}          -> {"ok": true, "id": 3, "port": 30080}
    {"op": "update", "id": 3, "set": {...}}    -> {"ok": true}   (health counters, DNS records)
    {"op": "remove", "id": 3}                  -> {"ok": true}
    {"op": "list"} / {"op": "ping"}            -> {"ok": true, ...}
    {"listeners": [<spec>, ...]}               -> {"ok": true, "ids": [...], "ports": [...]}
    anything failing                           -> {"ok": false, "error": "..."}

EOF on stdin means the parent is gone: the process exits (``--no-stdin`` serves until
SIGTERM instead). Listener specs (``kind`` plus fields):

* ``backend``  ip, port: HTTP ``200 OK`` ``backend <ip>:<port>`` on any path (a pod).
* ``nodeport`` ip, port, backend=[ip, port]: TCP splice to the backend (kube-proxy NodePort).
* ``health``   ip, port, namespace, name, local_endpoints, proxy_healthy, old_format:
  kube-proxy's per-Service health check server (pkg/proxy/healthcheck/service_health.go).
* ``dns``      ip, port, records {name: [ip...]}, cnames {name: target}: authoritative
  DNS over UDP and TCP (dnspython), NXDOMAIN for unknown names.
* ``ingress``  ip, port, server ("nginx" | "envoy"), hosts {host: status}: an Ingress
  controller's or Gateway's data plane by Host header: the status given for a known host
  (200 "backend", 503 / 500 / 502 with that proxy's error page), and for any other host
  the default backend's 404 (ingress-nginx) or Envoy's 404 (no route). ``reject_tls``:
  instead, answer a TLS ClientHello with a fatal ``unrecognized_name`` alert, as nginx's
  ``ssl_reject_handshake on`` does for a server name it has no certificate for.

Nothing here dials anything but the configured backends (loopback inside the lab).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import json
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

# Bounds, so a misbehaving client can't wedge the harness.
HEADER_LIMIT = 64 * 1024
BODY_LIMIT = 1024 * 1024
IDLE_TIMEOUT = 30.0
MAX_REQUESTS_PER_CONN = 1000
CNAME_DEPTH = 16
DNS_TTL = 30


# --------------------------------------------------------------------------- HTTP


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


Handler = Callable[[str, str], Response]  # (method, target) -> response


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, str, dict[str, str]] | None:
    """One request head (method, target, version, lower-cased headers); body discarded.
    None when the client closed the connection cleanly before a new request."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ValueError("truncated request") from None
        return None
    except asyncio.LimitOverrunError:
        raise ValueError("request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"bad request line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > BODY_LIMIT:
        raise ValueError("request body too large")
    if length:
        await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT)
    return parts[0], parts[1], parts[2], headers


async def _serve_http(handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.x like Go's net/http: the status line echoes the request's version,
    HTTP/1.1 keeps the connection alive unless asked to close, HTTP/1.0 closes."""
    try:
        for _ in range(MAX_REQUESTS_PER_CONN):
            try:
                req = await _read_request(reader)
            except (ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Connection: close\r\n\r\n400 Bad Request")
                break
            if req is None:
                break
            method, target, version, headers = req
            resp = handler(method, target, headers) if getattr(handler, "wants_headers", False) \
                else handler(method, target)
            keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
            lines = [f"{version} {resp.status} {resp.reason}"]
            lines += [f"{k}: {v}" for k, v in resp.headers]
            # Go appends Date and Content-Length after the handler's (sorted) headers.
            lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
            lines.append(f"Content-Length: {len(resp.body)}")
            if version == "HTTP/1.1" and not keep_alive:
                lines.append("Connection: close")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if method != "HEAD":
                writer.write(resp.body)
            await writer.drain()
            if not keep_alive:
                break
    except (ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await writer.wait_closed()


_NGINX_PAGE = ("<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n"
               "<center><h1>{code} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_REASONS = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def ingress_handler(state: dict[str, Any]) -> Handler:
    """ingress-nginx answers with its HTML error pages (503 "Service Temporarily Unavailable",
    the default backend's 404); Envoy with empty bodies and ``server: envoy``."""
    def handle(method: str, target: str, headers: dict[str, str]) -> Response:
        host = headers.get("host", "").split(":")[0].lower()
        code = int(state["hosts"].get(host, 404))
        server = state.get("server", "nginx")
        if code == 200:
            body = f"backend for {host}".encode()
        elif server == "nginx":
            body = _NGINX_PAGE.format(code=code, text=_REASONS.get(code, "Error")).encode()
        else:
            body = b""
        reason = _REASONS.get(code, "Error") if server == "nginx" else {503: "Service Unavailable"}.get(code, _REASONS.get(code, "Error"))
        return Response(code, reason, [("Content-Type", "text/html"), ("Server", server)], body)

    handle.wants_headers = True  # type: ignore[attr-defined]
    return handle


async def _reject_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """TLS record: alert (21), TLS 1.0 record version, length 2, fatal (2), unrecognized_name (112)."""
    try:
        await asyncio.wait_for(reader.read(5), IDLE_TIMEOUT)
        writer.write(bytes([21, 3, 1, 0, 2, 2, 112]))
        await writer.drain()
    except (ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        await _close(writer)


def backend_handler(ip: str, port: int) -> Handler:
    body = f"backend {ip}:{port}".encode()

    def handle(method: str, target: str) -> Response:
        return Response(200, "OK", [("Content-Type", "text/plain; charset=utf-8")], body)

    return handle


def health_body(namespace: str, name: str, local_endpoints: int, proxy_healthy: bool, old_format: bool) -> bytes:
    """The exact body of kube-proxy's service health check (new: dedented, tab-indented
    fmt template; old: the compact form seen on older clusters)."""
    ns, n = json.dumps(namespace), json.dumps(name)
    if old_format:
        return f'{{"service": {{"namespace": {ns},"name": {n}}},"localEndpoints": {local_endpoints}}}'.encode()
    healthy = "true" if proxy_healthy else "false"
    return (
        "{\n"
        "\t\"service\": {\n"
        f"\t\t\"namespace\": {ns},\n"
        f"\t\t\"name\": {n}\n"
        "\t},\n"
        f"\t\"localEndpoints\": {local_endpoints},\n"
        f"\t\"serviceProxyHealthy\": {healthy}\n"
        "}"
    ).encode()


def health_handler(state: dict[str, Any]) -> Handler:
    """Any path, any method: the handler is mounted at "/" in kube-proxy. ``state`` is
    read per request so ``update`` changes the answer live."""

    def handle(method: str, target: str) -> Response:
        count = int(state["local_endpoints"])
        healthy = bool(state.get("proxy_healthy", True))
        old = bool(state.get("old_format", False))
        # Old servers had no proxy-health input: 503 iff no local endpoints.
        ok = count != 0 if old else (count != 0 and healthy)
        headers = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
        if not old:
            headers.append(("X-Load-Balancing-Endpoint-Weight", str(count)))
        body = health_body(state["namespace"], state["name"], count, healthy, old)
        return Response(200, "OK", headers, body) if ok else Response(503, "Service Unavailable", headers, body)

    return handle


# --------------------------------------------------------------------------- NodePort


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close dst so request/response protocols still work."""
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (ConnectionError, OSError):
        pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): what a client of a dead backend would see."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


def nodeport_handler(backend: tuple[str, int]) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            b_reader, b_writer = await asyncio.wait_for(asyncio.open_connection(*backend), 5)
        except (OSError, asyncio.TimeoutError):
            _reset(writer)
            return
        try:
            await asyncio.gather(_pump(reader, b_writer), _pump(b_reader, writer))
        finally:
            for w in (writer, b_writer):
                with contextlib.suppress(Exception):
                    w.close()

    return handle


# --------------------------------------------------------------------------- DNS


class DnsZone:
    """Answers from ``records`` (A/AAAA) and ``cnames``; NXDOMAIN for the rest. Names are
    matched case-insensitively as absolute names."""

    def __init__(self, records: dict[str, list[str]], cnames: dict[str, str] | None) -> None:
        self.set(records, cnames)

    def set(self, records: dict[str, list[str]] | None, cnames: dict[str, str] | None) -> None:
        if records is not None:
            self.records = {self._key(k): [str(ipaddress.ip_address(a)) for a in v] for k, v in records.items()}
        if cnames is not None:
            self.cnames = {self._key(k): dns.name.from_text(v) for k, v in cnames.items()}
        elif not hasattr(self, "cnames"):
            self.cnames = {}

    @staticmethod
    def _key(name: str | dns.name.Name) -> dns.name.Name:
        n = dns.name.from_text(name) if isinstance(name, str) else name
        return n.canonicalize()

    def _addresses(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> list[dns.rrset.RRset]:
        want = 4 if rdtype == dns.rdatatype.A else 6
        addrs = [a for a in self.records.get(self._key(name), []) if ipaddress.ip_address(a).version == want]
        if not addrs:
            return []
        return [dns.rrset.from_text_list(name, DNS_TTL, "IN", dns.rdatatype.to_text(rdtype), addrs)]

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        resp = dns.message.make_response(query, recursion_available=True)
        resp.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            resp.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR)
            return resp
        q = query.question[0]
        if q.rdclass != dns.rdataclass.IN:
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        name = q.name
        # Follow the CNAME chain (bounded); the answer carries every hop, as a recursor's does.
        for _ in range(CNAME_DEPTH):
            key = self._key(name)
            target = self.cnames.get(key)
            if target is None:
                break
            resp.answer.append(dns.rrset.from_text(name, DNS_TTL, "IN", "CNAME", target.to_text()))
            if q.rdtype in (dns.rdatatype.CNAME,):
                return resp
            name = target
        key = self._key(name)
        if key not in self.records and key not in self.cnames:
            # RFC 6604: NXDOMAIN describes the last name in the chain (a CNAME to nowhere).
            resp.set_rcode(dns.rcode.NXDOMAIN)
            return resp
        if q.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            resp.answer.extend(self._addresses(name, q.rdtype))
        elif q.rdtype == dns.rdatatype.ANY:
            for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                resp.answer.extend(self._addresses(name, t))
        return resp  # NOERROR with no data for other types (NODATA)

    def wire_answer(self, data: bytes, max_size: int | None) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None  # not DNS: drop it like a real server would
        resp = self.answer(query)
        if max_size is None:
            return resp.to_wire()
        limit = max(512, query.payload if query.edns >= 0 else 512)
        try:
            return resp.to_wire(max_size=limit)
        except dns.exception.TooBig:
            resp.answer.clear()
            resp.flags |= dns.flags.TC  # client retries over TCP
            return resp.to_wire()


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, zone: DnsZone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = self.zone.wire_answer(data, max_size=512)
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


def dns_tcp_handler(zone: DnsZone) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(MAX_REQUESTS_PER_CONN):
                try:
                    (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), IDLE_TIMEOUT))
                    data = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                    break
                wire = zone.wire_answer(data, max_size=None)
                if wire is None:
                    break
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    return handle


# --------------------------------------------------------------------------- registry


@dataclass
class Listener:
    id: int
    spec: dict[str, Any]
    closers: list[Callable[[], None]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    zone: DnsZone | None = None
    port: int = 0

    def close(self) -> None:
        for c in self.closers:
            with contextlib.suppress(Exception):
                c()


class Servers:
    """All listeners of the lab, keyed by id."""

    def __init__(self) -> None:
        self.listeners: dict[int, Listener] = {}
        self.next_id = 1

    async def _tcp(self, handler: Callable[..., Awaitable[None]], ip: str, port: int) -> asyncio.base_events.Server:
        # reuse_address: a listener removed and re-added on the same port must bind again.
        return await asyncio.start_server(handler, ip, port, reuse_address=True, backlog=512)

    async def add(self, spec: dict[str, Any]) -> Listener:
        kind, ip, port = spec["kind"], str(spec["ip"]), int(spec.get("port", 0))
        lst = Listener(self.next_id, dict(spec))
        try:
            if kind == "backend":
                # Port 0: bind first, then the body names the real port.
                holder: dict[str, Handler] = {}
                srv = await self._tcp(lambda r, w: _serve_http(holder["h"], r, w), ip, port)
                lst.port = srv.sockets[0].getsockname()[1]
                holder["h"] = backend_handler(ip, lst.port)
                lst.closers.append(srv.close)
            elif kind == "nodeport":
                b_ip, b_port = spec["backend"]
                srv = await self._tcp(nodeport_handler((str(b_ip), int(b_port))), ip, port)
                lst.port = srv.sockets[0].getsockname()[1]
                lst.closers.append(srv.close)
            elif kind == "health":
                lst.state = {
                    "namespace": str(spec["namespace"]),
                    "name": str(spec["name"]),
                    "local_endpoints": int(spec["local_endpoints"]),
                    "proxy_healthy": bool(spec.get("proxy_healthy", True)),
                    "old_format": bool(spec.get("old_format", False)),
                }
                handler = health_handler(lst.state)
                srv = await self._tcp(lambda r, w: _serve_http(handler, r, w), ip, port)
                lst.port = srv.sockets[0].getsockname()[1]
                lst.closers.append(srv.close)
            elif kind == "ingress" and spec.get("reject_tls"):
                srv = await self._tcp(_reject_tls, ip, port or 443)
                lst.port = srv.sockets[0].getsockname()[1]
                lst.closers.append(srv.close)
            elif kind == "ingress":
                lst.state = {"hosts": {str(k).lower(): int(v) for k, v in (spec.get("hosts") or {}).items()},
                             "server": str(spec.get("server") or "nginx")}
                handler = ingress_handler(lst.state)
                srv = await self._tcp(lambda r, w: _serve_http(handler, r, w), ip, port or 80)
                lst.port = srv.sockets[0].getsockname()[1]
                lst.closers.append(srv.close)
            elif kind == "dns":
                zone = DnsZone(spec.get("records") or {}, spec.get("cnames") or {})
                lst.zone = zone
                port = port or 53
                srv = await self._tcp(dns_tcp_handler(zone), ip, port)
                lst.closers.append(srv.close)
                lst.port = srv.sockets[0].getsockname()[1]
                loop = asyncio.get_running_loop()
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _DnsUdp(zone), local_addr=(ip, lst.port), reuse_port=False
                )
                lst.closers.append(transport.close)
            else:
                raise ValueError(f"unknown listener kind {kind!r}")
        except BaseException:
            lst.close()
            raise
        lst.spec["port"] = lst.port
        self.listeners[lst.id] = lst
        self.next_id += 1
        return lst

    def update(self, lid: int, changes: dict[str, Any]) -> None:
        lst = self.listeners[lid]
        if lst.zone is not None:
            lst.zone.set(changes.get("records"), changes.get("cnames"))
        elif lst.state:
            unknown = set(changes) - set(lst.state)
            if unknown:
                raise ValueError(f"cannot update {sorted(unknown)} on a {lst.spec['kind']} listener")
            lst.state.update(changes)
        else:
            raise ValueError(f"{lst.spec['kind']} listeners have nothing to update")
        lst.spec.update(changes)

    def remove(self, lid: int) -> None:
        self.listeners.pop(lid).close()

    def close(self) -> None:
        for lst in self.listeners.values():
            lst.close()
        self.listeners.clear()


async def _command(servers: Servers, cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd.get("op")
    if op is None and "listeners" in cmd:  # a whole config object, as on argv
        added = [await servers.add(spec) for spec in cmd["listeners"]]
        return {"ok": True, "ids": [lst.id for lst in added], "ports": [lst.port for lst in added]}
    if op == "add":
        lst = await servers.add(cmd["listener"])
        return {"ok": True, "id": lst.id, "port": lst.port}
    if op == "update":
        servers.update(int(cmd["id"]), dict(cmd.get("set") or {}))
        return {"ok": True}
    if op == "remove":
        servers.remove(int(cmd["id"]))
        return {"ok": True}
    if op == "list":
        return {"ok": True, "listeners": [dict(lst.spec, id=lst.id) for lst in servers.listeners.values()]}
    if op == "ping":
        return {"ok": True}
    raise ValueError(f"unknown op {op!r}")


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=4 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main(argv: list[str]) -> int:
    use_stdin = "--no-stdin" not in argv
    args = [a for a in argv if a != "--no-stdin"]
    config: dict[str, Any] = {"listeners": []}
    if args:
        raw = args[0]
        config = json.loads(open(raw[1:]).read() if raw.startswith("@") else raw)
    servers = Servers()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for spec in config.get("listeners", []):
            await servers.add(spec)
    except Exception as exc:
        print(f"error: {exc!r}", file=sys.stderr, flush=True)
        _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        if not use_stdin:
            await stop.wait()
            return 0
        reader = await _stdin_lines()
        while not stop.is_set():
            line_task = asyncio.ensure_future(reader.readline())
            stop_task = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({line_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            stop_task.cancel()
            if line_task not in done:
                line_task.cancel()
                break
            line = line_task.result()
            if not line:
                break  # parent closed our stdin: it is gone or done with us
            if not line.strip():
                continue
            try:
                _reply(await _command(servers, json.loads(line)))
            except Exception as exc:  # report, keep serving
                _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 0
    finally:
        servers.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
