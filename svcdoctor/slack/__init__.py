"""The Slack chatops bot: a thin adapter over the CLI's own diagnose and scan paths.

Modules: commands (what a user may ask: diagnose, scan), access (who may diagnose or scan
what; rate limits), blocks (the report as Block Kit, within Slack's limits, cluster text made
inert), scanreply (a scan's summary as Block Kit and its JSON file), bot (the request →
diagnosis or scan → message flow, bounded), app (slack-bolt wiring, Socket Mode or HTTP,
health checks). ``svcdoctor slack`` runs it; deploy/slack/ has the app manifest and the
in-cluster manifests.
"""

from __future__ import annotations

import os
import threading

from .. import probes
from ..errors import UsageError


def serve(*, access: str, http: bool, host: str, port: int, kubeconfig: str | None,
          request_timeout: float | None, probe: probes.ProbeOptions, api_url: str | None) -> int:
    """Run the bot until interrupted. Tokens come from the environment only."""
    from . import access as access_mod
    from .app import Server, build
    from .bot import Bot

    policy = access_mod.load(access)
    token = os.environ.get("SLACK_BOT_TOKEN", "")
    if not token:
        raise UsageError("set SLACK_BOT_TOKEN (the app's xoxb- bot token)")
    secret = os.environ.get("SLACK_SIGNING_SECRET") if http else None
    if http and not secret:
        raise UsageError("--http needs SLACK_SIGNING_SECRET (Basic Information → App Credentials)")
    app_token = os.environ.get("SLACK_APP_TOKEN", "")
    if not http and not app_token:
        raise UsageError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write), or use --http")
    summaries = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))
    bot = Bot(policy, kubeconfig=kubeconfig, request_timeout=request_timeout, probe=probe, summaries=summaries)
    app = build(bot, token=token, signing_secret=secret, api_url=api_url)
    try:
        server = Server(host, port, app, serve_events=http)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if not http:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, app_token).connect()
    bot.record(event="started", mode="http" if http else "socket", port=server.port,
               channels=len(policy.channels))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    thread.join()
    return 0
