"""A fake Slack: the Web API methods the bot calls, on 127.0.0.1, recording every call;
and the signed requests Slack would send to the bot (slash commands, mentions, clicks).

Web API: auth.test, chat.postMessage, chat.update, chat.postEphemeral,
usergroups.users.list, and the three steps of files_upload_v2 (files.getUploadURLExternal
hands out an upload URL on this same server, the bytes are POSTed there,
files.completeUploadExternal shares the file). ``response_url`` of a slash command points
here too, so ``respond()`` is recorded. ``fail[method] = "invalid_blocks"`` makes a method
answer ``ok: false`` once.

The upload flow answers as Slack documents it (docs.slack.dev/reference/methods/
files.getUploadURLExternal, files.completeUploadExternal): ``{"ok": true, "upload_url": …,
"file_id": "F…"}``; the bytes POSTed to that URL get ``200 OK - <size>``; completion returns
``{"ok": true, "files": [{"id", "title", "name", "size"}]}``. ``uploads`` holds each shared
file (name and length as declared, title, channel, thread, comment, the bytes received).
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"   # a signing secret for the tests only
TEAM, BOT_USER = "T0SVCDOC01", "U0SVCDOCBOT"


class FakeSlack:
    def __init__(self, usergroups: dict[str, list[str]] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}            # file ID → the bytes POSTed to its upload URL
        self.declared: dict[str, dict[str, Any]] = {}   # file ID → getUploadURLExternal's filename, length
        self.uploads: list[dict[str, Any]] = []      # completed uploads, in order
        self.usergroups = usergroups or {}
        self.fail: dict[str, str] = {}
        self._ts = 1764600000.000100
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/upload/"):
                    fid = path.rsplit("/", 1)[1]
                    if fid not in outer.declared:  # only URLs this server handed out
                        return self._send(404, b"not found", "text/plain")
                    outer.files[fid] = raw
                    return self._send(200, b"OK - %d" % len(raw), "text/plain")
                ctype = self.headers.get("Content-Type", "")
                args = json.loads(raw or b"{}") if "json" in ctype else \
                    {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                method = "respond" if path.startswith("/respond/") else path.rsplit("/", 1)[-1]
                with outer._lock:
                    outer.calls.append({"method": method, "args": args,
                                        "auth": self.headers.get("Authorization", "")})
                    answer = outer._answer(method, args)
                self._send(200, json.dumps(answer).encode(), "application/json")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.api_url = self.base + "/api/"

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts:.6f}"

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in self.fail:
            return {"ok": False, "error": self.fail.pop(method)}
        if method == "auth.test":
            return {"ok": True, "url": "https://svcdoctor-test.slack.com/", "team": "test", "user": "svcdoctor",
                    "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0SVCDOC01"}
        if method == "chat.postMessage":
            ts = self._next_ts()
            return {"ok": True, "channel": args.get("channel"), "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(args.get("usergroup", ""), [])}
        if method == "files.getUploadURLExternal":
            if not args.get("filename") or not str(args.get("length", "")).isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            fid = f"F{len(self.files) + len(self.calls):08d}"
            self.declared[fid] = {"filename": args["filename"], "length": int(args["length"])}
            return {"ok": True, "upload_url": f"{self.base}/upload/{fid}", "file_id": fid}
        if method == "files.completeUploadExternal":
            files = json.loads(args["files"]) if isinstance(args.get("files"), str) else args.get("files")
            if not files or any(f.get("id") not in self.files for f in files):
                return {"ok": False, "error": "file_not_found"}  # never uploaded to its URL
            shared = []
            for f in files:
                declared, content = self.declared[f["id"]], self.files[f["id"]]
                self.uploads.append({"id": f["id"], "title": f.get("title", ""), **declared, "content": content,
                                     "channel_id": args.get("channel_id"), "thread_ts": args.get("thread_ts"),
                                     "initial_comment": args.get("initial_comment")})
                shared.append({"id": f["id"], "title": f.get("title") or declared["filename"],
                               "name": declared["filename"], "size": len(content)})
            return {"ok": True, "files": shared}
        if method == "respond":
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}

    # --- what the tests read -------------------------------------------------------------

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c["args"] for c in self.calls if c["method"] == method]

    def responses(self) -> list[dict[str, Any]]:
        return [c["args"] for c in self.calls if c["method"] == "respond"]

    def wait_for(self, method: str, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method) if method != "respond" else self.responses()
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {count} × {method} within {timeout}s; calls: {[c['method'] for c in self.calls]}")

    def __enter__(self) -> "FakeSlack":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- what Slack sends the bot -------------------------------------------------------------

def signed(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def slash(fake: FakeSlack, text: str, *, channel: str, user: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy-verification-token-unused", "team_id": TEAM, "team_domain": "svcdoctor-test",
        "channel_id": channel, "channel_name": "oncall", "user_id": user, "user_name": "someone",
        "command": "/svcdoctor", "text": text, "api_app_id": "A0SVCDOC01", "is_enterprise_install": "false",
        "response_url": f"{fake.base}/respond/{user}", "trigger_id": "1337.42.abcdef"})


def mention(text: str, *, channel: str, user: str, event_id: str, thread_ts: str | None = None) -> str:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": "1764600001.000200",
             "channel": channel, "event_ts": "1764600001.000200", "client_msg_id": event_id}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return json.dumps({"token": "unused", "team_id": TEAM, "api_app_id": "A0SVCDOC01", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event,
                       "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})


def click(fake: FakeSlack, action_id: str, value: str, *, channel: str, user: str, message_ts: str) -> str:
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user}, "api_app_id": "A0SVCDOC01",
               "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
               "channel": {"id": channel}, "message": {"ts": message_ts, "text": "…"},
               "response_url": f"{fake.base}/respond/{user}", "trigger_id": "1337.43.abcdef",
               "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value,
                            "action_ts": str(time.time())}]}
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def post(url: str, body: str, headers: dict[str, str], ctype: str) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": ctype, **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
