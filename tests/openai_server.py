"""An OpenAI-compatible Chat Completions server for the tests, on 127.0.0.1.

It records every request (path, headers, raw body) and answers as the test scripts it:
``server.behave(fn)`` where ``fn(request_body) -> Reply``. ``grounded`` plays a
well-behaved model: it reads the report out of the request, as a model would, and answers
with the schema's fields, the root cause first and commands copied from the fix steps.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

OPEN, CLOSE = "<<<SVCDOCTOR_REPORT", "SVCDOCTOR_REPORT>>>"


@dataclass
class Reply:
    content: str | None = None          # the assistant message
    status: int = 200
    error: str = ""                     # the error message for status >= 400
    raw: bytes | None = None            # a body sent as is (garbage)
    delay: float = 0.0
    finish_reason: str = "stop"
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 1234, "completion_tokens": 156})


def report_in(body: dict[str, Any]) -> dict[str, Any]:
    """The report between the markers of the user message, as the model receives it."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return json.loads(user.split(OPEN, 1)[1].rsplit(CLOSE, 1)[0])


def grounded(body: dict[str, Any]) -> Reply:
    report = report_in(body)
    findings = report["findings"]
    plan = []
    for f in findings:
        command = next((s["command"] for s in f["fix"] if s["command"]), None)
        plan.append({"finding": f["id"], "action": f"Fix {f['title']}.", "command": command,
                     "source": "playbook"})
    root = findings[0]
    answer = {"summary": f"{report['target']} is unreachable: {root['title']}. Fix that first.",
              "root_cause": root["id"], "plan": plan}
    return Reply(json.dumps(answer))


class Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._behaviour: Callable[[dict[str, Any]], Reply] = grounded
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "raw": raw.decode()})
                body = json.loads(raw)
                reply = outer._behaviour(body)
                time.sleep(reply.delay)
                if reply.raw is not None:
                    data, status = reply.raw, reply.status
                elif reply.status >= 400:
                    data = json.dumps({"error": {"message": reply.error, "type": "invalid_request_error",
                                                 "code": None}}).encode()
                    status = reply.status
                else:
                    data = json.dumps({
                        "id": f"chatcmpl-{len(outer.requests)}", "object": "chat.completion",
                        "created": int(time.time()), "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                     "message": {"role": "assistant", "content": reply.content}}],
                        "usage": {**reply.usage,
                                  "total_tokens": reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]},
                    }).encode()
                    status = 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def behave(self, fn: Callable[[dict[str, Any]], Reply]) -> None:
        self._behaviour = fn

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["raw"]) for r in self.requests]

    def __enter__(self) -> "Server":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
