"""Who may diagnose what from Slack: default deny, decided before any API call.

A YAML file maps Slack channel IDs (IDs: names can be renamed) to the kube contexts and
namespaces they may diagnose, optionally narrowed to users or user groups::

    channels:
      C0123456789:                  # #shop-oncall
        contexts: [prod]            # kubeconfig contexts; "in-cluster" = the bot's own pod
        namespaces: [shop, checkout]    # or ["*"]
        users: [U0ABCDEF12]         # optional: only these users...
        usergroups: [S0GHIJKL34]    # ...or members of these user groups (scope usergroups:read)
    limits:
      per_user: 5                   # diagnoses per user...
      per_seconds: 60               # ...in this window
      concurrent: 4                 # diagnoses at once; more are refused, not queued
      timeout: 60                   # seconds for one diagnosis, probes included

The first context of a channel is used when the command names none; a channel with one
namespace may leave out ``-n``. ``scan`` is decided the same way (one namespace); ``scan -A``
only in a channel whose namespaces are ``["*"]``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, TypeVar

import yaml

from .. import shapes
from ..errors import UsageError
from .commands import Request, ScanRequest

Asked = TypeVar("Asked", Request, ScanRequest)
IN_CLUSTER = "in-cluster"
SHAPE = {"channels": shapes.ANY,
         "limits": {"per_user": shapes.INT, "per_seconds": shapes.NUMBER, "concurrent": shapes.INT,
                    "timeout": shapes.NUMBER}}
CHANNEL = {"contexts": [shapes.STR], "namespaces": [shapes.STR], "users": [shapes.STR],
           "usergroups": [shapes.STR]}


class Denied(Exception):
    """``str(err)`` is what the user is told (never which channels may)."""


@dataclass(frozen=True)
class Channel:
    contexts: tuple[str, ...]
    namespaces: tuple[str, ...]
    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()


@dataclass
class Policy:
    channels: dict[str, Channel]
    per_user: int = 5
    per_seconds: float = 60.0
    concurrent: int = 4
    timeout: float = 60.0

    def decide(self, request: Asked, channel_id: str, user_id: str,
               groups_of: Callable[[str], set[str]] = lambda group: set()) -> Asked:
        """The request with its context and namespace filled in, or Denied."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise Denied("svcdoctor is not enabled for this channel; ask your cluster admins to add its ID "
                         f"({channel_id}) to the bot's access file")
        if channel.users or channel.usergroups:
            allowed = user_id in channel.users or any(user_id in groups_of(g) for g in channel.usergroups)
            if not allowed:
                raise Denied("you are not among the users allowed to run svcdoctor in this channel")
        context = request.context or channel.contexts[0]
        if context not in channel.contexts:
            raise Denied(f"this channel may not diagnose context {context!r} (allowed: {', '.join(channel.contexts)})")
        if isinstance(request, ScanRequest) and request.all_namespaces:
            # -A reads every namespace: only where the policy already grants every one.
            if "*" not in channel.namespaces:
                raise Denied("this channel may not scan all namespaces (`-A`); scan one of "
                             f"{', '.join(channel.namespaces)} with `-n NAMESPACE`")
            return replace(request, context=context)
        namespace = request.namespace
        if namespace is None:
            if len(channel.namespaces) != 1 or channel.namespaces[0] == "*":
                raise Denied("say which namespace: `-n NAMESPACE`")
            namespace = channel.namespaces[0]
        if "*" not in channel.namespaces and namespace not in channel.namespaces:
            raise Denied(f"this channel may not diagnose namespace {namespace!r} "
                         f"(allowed: {', '.join(channel.namespaces)})")
        return replace(request, namespace=namespace, context=context)


def load(path: str | Path) -> Policy:
    """The policy in ``path``; UsageError (one line) if it cannot be read or is wrong."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"access file {p}: cannot read it ({exc.__class__.__name__})") from None
    except (yaml.YAMLError, RecursionError):
        raise UsageError(f"access file {p}: not valid YAML") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("channels"), dict) or not doc["channels"]:
        raise UsageError(f"access file {p}: expected `channels:` mapping channel IDs to contexts and namespaces")
    try:
        doc = shapes.conform(doc, SHAPE)
        channels = {}
        for cid, entry in doc["channels"].items():
            entry = shapes.conform(entry, CHANNEL, f"channels.{cid}")
            if not entry.get("contexts") or not entry.get("namespaces"):
                raise UsageError(f"access file {p}: channels.{cid} needs contexts and namespaces")
            channels[str(cid)] = Channel(tuple(entry["contexts"]), tuple(entry["namespaces"]),
                                         tuple(entry.get("users") or ()), tuple(entry.get("usergroups") or ()))
    except shapes.ShapeError as exc:
        raise UsageError(f"access file {p}: {exc}") from None
    limits = doc.get("limits") or {}
    policy = Policy(channels, **{k: v for k, v in limits.items()})
    if policy.per_user < 1 or policy.per_seconds <= 0 or policy.concurrent < 1 or policy.timeout <= 0:
        raise UsageError(f"access file {p}: limits must be positive")
    return policy


@dataclass
class RateLimit:
    """At most ``per_user`` requests per user in any ``per_seconds`` window."""

    per_user: int
    per_seconds: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, user: str) -> bool:
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(user, deque())
            while times and now - times[0] >= self.per_seconds:
                times.popleft()
            if len(times) >= self.per_user:
                return False
            times.append(now)
            return True
