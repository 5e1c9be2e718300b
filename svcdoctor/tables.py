"""Plugin translation tables: YAML lists that turn a controller's message into a cause and
a fix (plugins/lb_errors.yaml, metallb_causes.yaml, aws_ownership.yaml, and any third
party's). Read once, checked entry by entry, so a broken table is one line naming the
entry, not an error in the middle of a diagnosis.

An entry::

    - id: gcp-ip-not-reserved            # unique, used in facts and tests
      provider: GCP                      # optional: whose words these are
      finding: lb-requested-ip-not-allowed   # optional: a more precise finding ID
      match: 'requested ip "(?P<ip>[^"]+)" is neither static nor assigned'   # optional regex
      title: "…"  cause: "…"             # {placeholders} from the named groups and facts
      fix: [{text: "…", command: "…"}]
      link: https://…                    # optional: the implementation's own documentation
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from . import shapes
from .errors import UsageError

ENTRY = {"id": shapes.STR, "provider": shapes.STR, "finding": shapes.STR, "match": shapes.STR,
         "title": shapes.STR, "cause": shapes.STR, "link": shapes.STR,
         "fix": [{"text": shapes.STR, "command": shapes.STR}]}
REQUIRED = ("id", "title", "cause")


def parse(text: str, where: str) -> list[dict[str, Any]]:
    """The entries of one table, each with ``regex`` compiled from ``match`` (or None)."""
    try:
        table = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise UsageError(f"table {where}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(table, list):
        raise UsageError(f"table {where}: expected a list of entries, found {shapes.describe(table)}")
    entries, seen = [], set()
    for i, raw in enumerate(table):
        try:
            entry = shapes.conform(raw, ENTRY, f"[{i}]") if isinstance(raw, dict) else None
        except shapes.ShapeError as exc:
            raise UsageError(f"table {where}: entry {exc}") from None
        if entry is None:
            raise UsageError(f"table {where}: entry [{i}] is {shapes.describe(raw)}, not a mapping")
        label = f"entry [{i}] ({entry.get('id', 'no id')})"
        missing = [k for k in REQUIRED if not entry.get(k)]
        if missing:
            raise UsageError(f"table {where}: {label} lacks {', '.join(missing)}")
        if entry["id"] in seen:
            raise UsageError(f"table {where}: {label}: the id is used twice")
        seen.add(entry["id"])
        if any(not step.get("text") for step in entry.get("fix") or []):
            raise UsageError(f"table {where}: {label}: each fix step needs a text")
        try:
            entry["regex"] = re.compile(entry["match"]) if entry.get("match") else None
        except re.error as exc:
            raise UsageError(f"table {where}: {label}: match is not a valid regular expression ({exc})") from None
        entries.append(entry)
    return entries


@lru_cache(maxsize=None)
def bundled(package: str, name: str) -> tuple[dict[str, Any], ...]:
    """A table shipped in a plugin package, read once per process."""
    return tuple(parse((resources.files(package) / name).read_text("utf-8"), name))


def search(entries: Any, message: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The first entry whose ``match`` finds something in ``message``, with its named
    groups (alternatives may name one thing twice, ``ip1``/``ip2``: the plain name is kept)."""
    for entry in entries:
        m = entry["regex"].search(message) if entry["regex"] else None
        if m:
            groups: dict[str, str] = {}
            for key, value in m.groupdict().items():
                if value:
                    groups.setdefault(key.rstrip("0123456789"), value)
            return entry, groups
    return None, {}
