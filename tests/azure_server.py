"""An Azure Resource Manager stand-in on 127.0.0.1 (no emulator for load balancers exists on
PyPI) for the Azure reader: the cluster's shared load balancer as cloud-provider-azure
shapes it (frontend IP configurations, rules and probes named ``a<uid>…``), and the rule
health long-running operation (202 + Location, then ``LoadBalancerHealthPerRule``). The token
comes from azure-identity's Azure CLI credential: ``az`` here is a script on PATH that
answers ``az account get-access-token`` in the CLI's JSON, as a logged-in CLI does.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.svcdoctor-test"


class ArmServer:
    def __init__(self) -> None:
        self.resources: dict[str, dict] = {}     # lower-cased ARM path → object
        self.health: dict[str, list[dict]] = {}   # rule name → backend addresses
        self.denied: set[str] = set()            # "health": the rule-health action is forbidden
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict | None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _auth(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"error": {"code": "AuthenticationFailed",
                                               "message": "Authentication failed. The 'Authorization' header is missing."}})
                    return False
                return True

            def do_POST(self) -> None:  # noqa: N802
                path = urlparse(self.path).path
                server.requests.append(("POST", path))
                if not self._auth():
                    return
                if not path.lower().endswith("/health"):
                    return self._send(404, None)
                if "health" in server.denied:
                    return self._send(403, {"error": {"code": "AuthorizationFailed", "message": (
                        "The client 'svcdoctor' with object id '00000000-0000-0000-0000-000000000001' does not have "
                        "authorization to perform action 'Microsoft.Network/loadBalancers/loadBalancingRules/health/action' "
                        f"over scope '{path}' or the scope is invalid.")}})
                rule = path.rsplit("/", 2)[-2]
                return self._send(202, None, {"Location": f"http://127.0.0.1:{server.port}/operations/{rule}",
                                              "Retry-After": "0"})

            def do_GET(self) -> None:  # noqa: N802
                path = urlparse(self.path).path
                server.requests.append(("GET", path))
                if not self._auth():
                    return
                if path.startswith("/operations/"):
                    addrs = server.health.get(path.rsplit("/", 1)[-1], [])
                    return self._send(200, {"up": sum(a["state"] == "Up" for a in addrs),
                                            "down": sum(a["state"] == "Down" for a in addrs),
                                            "loadBalancerBackendAddresses": addrs})
                obj = server.resources.get(path.lower())
                if obj is None:
                    return self._send(404, {"error": {"code": "ResourceNotFound", "message": (
                        f"The Resource '{path.rsplit('/providers/', 1)[-1]}' under resource group was not found.")}})
                return self._send(200, obj)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ArmServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def env(self, folder: Path) -> dict[str, str]:
        """A logged-in Azure CLI on PATH (answering get-access-token), this ARM endpoint,
        and azure-identity told to use the CLI credential only (no managed identity probe)."""
        az = folder / "az"
        if not az.exists():
            az.write_text("#!/bin/sh\n# az account get-access-token --output json --resource …\n"
                          f"echo '{json.dumps({'accessToken': TOKEN, 'expiresOn': '2099-01-01 00:00:00.000000', 'expires_on': 4070908800, 'subscription': '0b1f6471-1bf0-4dda-aec3-111122223333', 'tenant': '72f988bf-86f1-41af-91ab-2d7cd011db47', 'tokenType': 'Bearer'})}'\n")
            az.chmod(az.stat().st_mode | stat.S_IEXEC)
        return {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}", "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
                "SVCDOCTOR_AZURE_ARM_ENDPOINT": self.url}
