"""What a Slack user may ask, parsed strictly: only the documented forms.

    /svcdoctor diagnose svc/NAME -n NAMESPACE [--context CONTEXT] [--summarize]
    /svcdoctor scan -n NAMESPACE [--context CONTEXT]    (or -A: every namespace)
    /svcdoctor help
    @svcdoctor diagnose svc/NAME -n NAMESPACE ...       (in a channel or a thread)
    @svcdoctor scan -n NAMESPACE ...

No hosts, URLs, files or flags that change what is read or probed: the bot diagnoses a
Service, or scans a namespace, the channel may see, the way the CLI does by default
(a scan never probes), and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from ..target import check_namespace, parse_service_ref

USAGE = ("Usage: `/svcdoctor diagnose svc/NAME -n NAMESPACE [--context CONTEXT] [--summarize]`, "
         "`/svcdoctor scan -n NAMESPACE [--context CONTEXT]` (every Service of a namespace; `-A` for all, "
         "where this channel may see all), `/svcdoctor help`. Or mention me: "
         "`@svcdoctor diagnose svc/NAME -n NAMESPACE`, `@svcdoctor scan -n NAMESPACE`.")
_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(\|[^>]*)?>\s*")
_CONTEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}$")


@dataclass(frozen=True)
class Request:
    """One diagnosis asked for in Slack."""

    name: str
    namespace: str | None     # None: the channel's only namespace, if it has one
    context: str | None       # None: the channel's first context
    summarize: bool = False

    @property
    def target(self) -> str:
        return f"svc/{self.name}" + (f" -n {self.namespace}" if self.namespace else "")

    @property
    def progress(self) -> str:
        return f"Diagnosing {self.target}"


@dataclass(frozen=True)
class ScanRequest:
    """One scan asked for in Slack: every Service of a namespace (or, -A, of all)."""

    namespace: str | None     # None: the channel's only namespace (or all, with all_namespaces)
    context: str | None
    all_namespaces: bool = False

    @property
    def target(self) -> str:
        if self.all_namespaces:
            return "all namespaces"
        return f"namespace {self.namespace}" if self.namespace else "the channel's namespace"

    @property
    def progress(self) -> str:
        return f"Scanning {self.target}"


class Help(Exception):
    """The user asked for help (or said nothing)."""


def parse(text: str) -> Request | ScanRequest:
    """A Request or ScanRequest, Help, or UsageError (its message ends with the usage)."""
    text = _MENTION.sub("", text or "")
    words = text.split()
    if not words or words[0].lower() == "help":
        raise Help()
    command = words[0]
    if command not in ("diagnose", "scan"):
        raise UsageError(f"unknown command {command[:40]!r}. {USAGE}")
    if any(c in text for c in "<>`'\"|;&$\\"):
        raise UsageError(f"only plain names are accepted (no links, quotes or shell characters). {USAGE}")
    target, namespace, context, summarize, all_namespaces = None, None, None, False, False
    rest = iter(words[1:])
    for word in rest:
        if word in ("-n", "--namespace", "--context"):
            value = next(rest, None)
            if value is None or value.startswith("-"):
                raise UsageError(f"{word} needs a value. {USAGE}")
            if word == "--context":
                if not _CONTEXT.match(value):
                    raise UsageError(f"{value[:60]!r} is not a context name. {USAGE}")
                context = value
            else:
                namespace = check_namespace(value)
        elif word.startswith(("--namespace=", "--context=")):
            raise UsageError(f"write {word.split('=')[0]} VALUE, with a space. {USAGE}")
        elif word == "--summarize" and command == "diagnose":
            summarize = True
        elif word in ("-A", "--all-namespaces") and command == "scan":
            all_namespaces = True
        elif word.startswith("-"):
            raise UsageError(f"unknown option {word[:40]!r} for {command}. {USAGE}")
        elif command == "scan":
            raise UsageError(f"scan takes a namespace, not a Service ({word[:40]!r}): "
                             f"`scan -n NAMESPACE`, or `diagnose svc/NAME -n NAMESPACE`. {USAGE}")
        elif target is None:
            target = parse_service_ref(word if "/" in word else f"svc/{word}")
        else:
            raise UsageError(f"one Service at a time ({word[:40]!r} is extra). {USAGE}")
    if command == "scan":
        if all_namespaces and namespace:
            raise UsageError(f"-A or -n NAMESPACE, not both. {USAGE}")
        return ScanRequest(namespace, context, all_namespaces)
    if target is None:
        raise UsageError(f"which Service? {USAGE}")
    return Request(target, namespace, context, summarize)
