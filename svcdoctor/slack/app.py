"""slack-bolt wiring: the slash command, mentions, buttons; Socket Mode or HTTP; health.

``diagnose`` and ``scan`` take one path: post "…ing" → run (bot) → update that message →
upload the file (the recording; the scan's JSON) into the thread → one audit line.

Socket Mode (``SLACK_APP_TOKEN`` + ``SLACK_BOT_TOKEN``) opens no port to Slack: the usual
choice inside a cluster. HTTP mode (``SLACK_SIGNING_SECRET`` + ``SLACK_BOT_TOKEN``) serves
``POST /slack/events``; Bolt checks every request's signature and timestamp (401 and
nothing run otherwise). Both serve ``GET /healthz`` and ``GET /readyz`` for the kubelet: the
server only starts once Slack has accepted the token (auth.test).
"""

from __future__ import annotations

import http.server
import json
import logging
from typing import Any
from urllib.parse import urlparse

from ..errors import UsageError
from . import blocks
from .access import Denied
from .bot import Bot, refusal
from .commands import Help, Request, ScanRequest

SLASH = "/svcdoctor"


def build(bot: Bot, *, token: str, signing_secret: str | None = None, api_url: str | None = None) -> Any:
    """The Bolt app (requires the slack extra)."""
    try:
        from slack_bolt import App
        from slack_sdk import WebClient
    except ImportError:
        raise UsageError("svcdoctor slack needs the slack extra: pip install 'svcdoctor[slack]'") from None
    from slack_sdk.errors import SlackApiError

    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
    client = WebClient(token=token, base_url=api_url) if api_url else WebClient(token=token)
    try:
        app = App(client=client, signing_secret=signing_secret or "unused-in-socket-mode",
                  request_verification_enabled=signing_secret is not None)
    except Exception as exc:  # auth.test refused the token, or Slack was unreachable
        raise UsageError(f"Slack refused to start the app: {' '.join(str(exc).split())[:200]}") from None
    groups_cache: dict[str, set[str]] = {}

    def groups_of(group: str) -> set[str]:
        if group not in groups_cache:
            try:
                groups_cache[group] = set(client.usergroups_users_list(usergroup=group).get("users") or [])
            except SlackApiError:
                groups_cache[group] = set()  # cannot tell: not a member
        return groups_cache[group]

    def answer_into(channel: str, ts: str, request: Request | ScanRequest, user: str, *,
                      thread: str | None = None, previous: list[str] | None = None) -> None:
        """Diagnose (or scan), update message ``ts`` with the answer and, for a new request,
        upload its file into ``thread`` (the thread's root: Slack threads hang off parents only)."""
        outcome = bot.run(request)
        message = bot.message(request, outcome, previous)
        _update(client, channel, ts, message)
        attached = bot.attachment(request, outcome, user) if thread is not None else None
        if attached is not None:
            name, text, comment = attached
            try:  # files_upload_v2: getUploadURLExternal, POST to upload_url, completeUploadExternal
                client.files_upload_v2(channel=channel, thread_ts=thread, filename=name, title=name, content=text,
                                       initial_comment=comment)
            except SlackApiError as exc:
                logging.getLogger("svcdoctor.slack").warning("file upload failed: %s", exc.response.get("error"))
        bot.record(user=user, channel=channel, **bot.log_fields(request, outcome))

    @app.command(SLASH)
    def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        channel, user = command.get("channel_id", ""), command.get("user_id", "")
        try:
            request = bot.admit(command.get("text", ""), channel, user, groups_of)
        except (Help, UsageError, Denied) as exc:
            respond(text=refusal(exc), response_type="ephemeral")
            bot.record(user=user, channel=channel, target=command.get("text", "")[:100], context=None,
                       outcome="help" if isinstance(exc, Help) else "refused", duration_ms=0)
            return
        parent = client.chat_postMessage(channel=channel, text=f"{request.progress} "
                                         f"(context {request.context}) for <@{user}>…")
        answer_into(channel, parent["ts"], request, user, thread=parent["ts"])

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
        if not bot.first_time(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"):
            return  # Slack's retry of an event already being handled
        channel, user = event.get("channel", ""), event.get("user", "")
        thread = event.get("thread_ts") or event.get("ts")
        try:
            request = bot.admit(event.get("text", ""), channel, user, groups_of)
        except (Help, UsageError, Denied) as exc:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, text=refusal(exc))
            bot.record(user=user, channel=channel, target=event.get("text", "")[:100], context=None,
                       outcome="help" if isinstance(exc, Help) else "refused", duration_ms=0)
            return
        reply = client.chat_postMessage(channel=channel, thread_ts=thread,
                                        text=f"{request.progress} (context {request.context})…")
        answer_into(channel, reply["ts"], request, user, thread=thread)

    @app.action(blocks.RECHECK)
    def on_recheck(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        _again(body, action, respond, summarize=False)

    @app.action(blocks.SUMMARIZE)
    def on_summarize(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        _again(body, action, respond, summarize=True)

    def _again(body: dict[str, Any], action: dict[str, Any], respond: Any, summarize: bool) -> None:
        channel = (body.get("channel") or {}).get("id", "")
        user = (body.get("user") or {}).get("id", "")
        ts = (body.get("message") or body.get("container") or {}).get("ts") or \
            (body.get("container") or {}).get("message_ts", "")
        try:
            value = json.loads(action.get("value") or "")
            asked = Request(value["name"], value["namespace"], value["context"], summarize)
            if not bot.rate.allow(user):
                raise Denied("too many diagnoses; wait a moment")
            request = bot.policy.decide(asked, channel, user, groups_of)  # the clicker, not the asker
        except (ValueError, KeyError, TypeError):
            respond(text="This button's request could not be read; run the command again.",
                    response_type="ephemeral", replace_original=False)
            return
        except (UsageError, Denied) as exc:
            respond(text=refusal(exc), response_type="ephemeral", replace_original=False)
            return
        # the recording is already in the thread: a button only updates the message
        answer_into(channel, ts, request, user, previous=None if summarize else list(value.get("ids") or []))

    return app


def _update(client: Any, channel: str, ts: str, message: dict[str, Any]) -> None:
    """chat.update with the blocks; if Slack still refuses them, the text alone."""
    from slack_sdk.errors import SlackApiError

    problems = blocks.violations(message["blocks"])
    if problems:  # never send a payload Slack would reject
        logging.getLogger("svcdoctor.slack").warning("blocks over Slack's limits: %s", "; ".join(problems))
        message = {"text": message["text"], "blocks": [blocks.section(blocks.escape(message["text"]))]}
    try:
        client.chat_update(channel=channel, ts=ts, **message)
    except SlackApiError as exc:
        if exc.response.get("error") != "invalid_blocks":
            raise
        client.chat_update(channel=channel, ts=ts, text=message["text"],
                           blocks=[blocks.section(blocks.escape(message["text"]) + " (details in the file)")])


class Server:
    """``/healthz``, ``/readyz`` and, in HTTP mode, ``POST /slack/events`` for Bolt."""

    def __init__(self, host: str, port: int, app: Any, serve_events: bool) -> None:
        from slack_bolt.request import BoltRequest

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = urlparse(self.path).path
                if path in ("/healthz", "/readyz"):  # serving at all means build() passed auth.test
                    self._send(200, b"ok\n", "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                if not serve_events or url.path != "/slack/events":
                    self._send(404, b"not found\n", "text/plain")
                    return
                length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                resp = app.dispatch(BoltRequest(body=raw, query=url.query,
                                                headers={k.lower(): [v] for k, v in self.headers.items()}))
                self._send(resp.status, resp.body.encode(), resp.headers.get("content-type", ["text/plain"])[0])

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def serve_forever(self) -> None:
        self.httpd.serve_forever()
