"""Serving the MCP server: stdio (the default, for agents that start it), or Streamable HTTP
behind a bearer token and a Host allow-list (the SDK's DNS-rebinding protection)."""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError

TOKEN_ENV = "SVCDOCTOR_MCP_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def token(token_file: str | None) -> str:
    """The bearer token HTTP clients must send: from --token-file, else $SVCDOCTOR_MCP_TOKEN."""
    if token_file:
        try:
            value = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--token-file {token_file}: cannot read it ({exc.__class__.__name__})") from None
    else:
        value = os.environ.get(TOKEN_ENV, "").strip()
    if len(value) < 16:
        raise UsageError(f"--http needs a bearer token of at least 16 characters: --token-file FILE or "
                         f"${TOKEN_ENV} (e.g. `openssl rand -hex 32`)")
    return value


def allowed_hosts(host: str, port: int, given: list[str]) -> list[str]:
    """Host headers to accept: loopback names by default; another --host needs its own list."""
    if given:
        return given
    if host not in LOOPBACK and not _loopback(host):
        raise UsageError(f"--host {host}: name the Host headers clients will send with --allowed-host "
                         f"(e.g. --allowed-host svcdoctor.example.internal:{port})")
    return [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <token>`` (401 else)."""

    def __init__(self, app: Any, secret: str) -> None:
        self.app, self.expected = app, f"Bearer {secret}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error":"unauthorized","error_description":"a bearer token is required"}'
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http(server: Any, host: str, port: int, secret: str, hosts: list[str]) -> None:
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                         allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts])
    app = BearerAuth(server.streamable_http_app(streamable_http_path="/mcp", host=host,
                                                transport_security=security), secret)
    print(f"svcdoctor mcp: Streamable HTTP on http://{host}:{port}/mcp (bearer token required; "
          f"Host: {', '.join(hosts)})", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)).run()


def stdio(server: Any) -> None:
    # stdout carries the protocol: make sure nothing of ours is buffered there.
    sys.stdout.flush()
    server.run("stdio")
