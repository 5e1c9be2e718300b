"""What a Slack user may ask, parsed strictly: only the documented forms.

    /svcdoctor diagnose svc/NAME -n NAMESPACE [--context CONTEXT] [--summarize]
    /svcdoctor help
    @svcdoctor diagnose svc/NAME -n NAMESPACE ...       (in a channel or a thread)

No hosts, URLs, files or flags that change what is read or probed: the bot diagnoses a
Service the channel may see, the way the CLI does by default, and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from ..target import check_namespace, parse_service_ref

USAGE = ("Usage: `/svcdoctor diagnose svc/NAME -n NAMESPACE [--context CONTEXT] [--summarize]` "
         "(or mention me: `@svcdoctor diagnose svc/NAME -n NAMESPACE`), `/svcdoctor help`.")
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


class Help(Exception):
    """The user asked for help (or said nothing)."""


def parse(text: str) -> Request:
    """A Request, Help, or UsageError (its message ends with the usage)."""
    text = _MENTION.sub("", text or "")
    words = text.split()
    if not words or words[0].lower() == "help":
        raise Help()
    if words[0] != "diagnose":
        raise UsageError(f"unknown command {words[0][:40]!r}. {USAGE}")
    if any(c in text for c in "<>`'\"|;&$\\"):
        raise UsageError(f"only plain names are accepted (no links, quotes or shell characters). {USAGE}")
    target, namespace, context, summarize = None, None, None, False
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
        elif word == "--summarize":
            summarize = True
        elif word.startswith("-"):
            raise UsageError(f"unknown option {word[:40]!r}. {USAGE}")
        elif target is None:
            target = parse_service_ref(word if "/" in word else f"svc/{word}")
        else:
            raise UsageError(f"one Service at a time ({word[:40]!r} is extra). {USAGE}")
    if target is None:
        raise UsageError(f"which Service? {USAGE}")
    return Request(target, namespace, context, summarize)
