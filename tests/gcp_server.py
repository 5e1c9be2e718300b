"""A Compute Engine API stand-in on 127.0.0.1 (no emulator for Compute exists on PyPI), for
the GCP reader: the resources cloud-provider-gcp creates for a LoadBalancer Service,
answered in the Compute API's JSON (kinds, selfLinks, ``healthStatus`` of
``targetPools.getHealth``, its error body), and an OAuth token endpoint for the
Application Default Credentials of an ``authorized_user`` file, so google-auth really
refreshes a token over HTTP: a service-account key made for the test, whose signed JWT the
token endpoint verifies (google-auth honours a service account's ``token_uri``). It only answers what the tests put in ``resources``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "ya29.svcdoctor-test-token"
PREFIX = "/compute/v1/"


class ComputeServer:
    def __init__(self) -> None:
        self.resources: dict[str, dict] = {}        # "projects/p/regions/r/forwardingRules/x" → object
        self.health: dict[str, str] = {}            # instance name → HEALTHY | UNHEALTHY
        self.denied: set[str] = set()               # path suffixes answered 403 ("getHealth")
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path == "/token":
                    form = parse_qs(raw.decode())
                    if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or \
                            not server.verify(form.get("assertion", [""])[0]):
                        return self._send(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                    return self._send(200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer",
                                            "scope": "https://www.googleapis.com/auth/compute.readonly"})
                self._compute("POST", json.loads(raw or b"{}"))

            def do_GET(self) -> None:  # noqa: N802
                self._compute("GET", None)

            def _compute(self, method: str, body: dict | None) -> None:
                url = urlparse(self.path)
                path = url.path[len(PREFIX):] if url.path.startswith(PREFIX) else url.path
                server.requests.append((method, path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, _error(401, "Request is missing required authentication credential.",
                                                  "authError"))
                if any(path.endswith(d) for d in server.denied):
                    return self._send(403, _error(403, f"Required 'compute.targetPools.get' permission for "
                                                       f"'{path.rsplit('/', 1)[0]}'", "forbidden"))
                if method == "POST" and path.endswith("/getHealth"):
                    pool = server.resources.get(path[:-len("/getHealth")])
                    if pool is None:
                        return self._send(404, _not_found(path))
                    inst = str((body or {}).get("instance"))
                    name = inst.rsplit("/", 1)[-1]
                    return self._send(200, {"kind": "compute#targetPoolInstanceHealth", "healthStatus": [{
                        "healthState": server.health.get(name, "HEALTHY"), "instance": inst,
                        "ipAddress": pool.get("_ip", "")}]})
                if path.endswith("/global/firewalls"):
                    prefix = path[:-len("firewalls")]
                    items = [v for k, v in server.resources.items() if k.startswith(prefix + "firewalls/")]
                    return self._send(200, {"kind": "compute#firewallList", "id": prefix + "firewalls",
                                            "items": items, "selfLink": self._link(path)})
                obj = server.resources.get(path)
                if obj is None:
                    return self._send(404, _not_found(path))
                return self._send(200, {k: v for k, v in obj.items() if not k.startswith("_")})

            def _link(self, path: str) -> str:
                return f"https://www.googleapis.com/compute/v1/{path}"

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "ComputeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def credentials_file(self, folder: Path) -> Path:
        """A service-account key file as the IAM console downloads it, with the token
        endpoint on this server and a key made here."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = key.public_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        path = folder / "svcdoctor-reader.json"
        path.write_text(json.dumps({"type": "service_account", "project_id": "shop-prod-1234",
                                    "private_key_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6", "private_key": pem,
                                    "client_email": "svcdoctor-reader@shop-prod-1234.iam.gserviceaccount.com",
                                    "client_id": "104857600000000000001", "token_uri": f"{self.url}/token"}))
        return path

    def verify(self, assertion: str) -> bool:
        """The JWT google-auth signed with the key: RS256 over header.payload."""
        import base64

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head, payload, sig = assertion.split(".")
            pad = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))  # noqa: E731
            self._public.verify(pad(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
            return json.loads(pad(payload)).get("aud") == "https://oauth2.googleapis.com/token"  # as Google checks it
        except Exception:
            return False

    def env(self, folder: Path) -> dict[str, str]:
        return {"GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials_file(folder)),
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": f"{self.url}{PREFIX}",
                "GCE_METADATA_HOST": "127.0.0.1:9", "NO_GCE_CHECK": "True"}


def _error(code: int, message: str, reason: str) -> dict:
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


def _not_found(path: str) -> dict:
    return _error(404, f"The resource '{path}' was not found", "notFound")
