"""Suppressions: ``--ignore FILE``, findings a team has accepted, with a reason and an end.

    # .svcdoctor-ignore.yaml
    ignore:
      - id: lb-targets-unhealthy            # a finding ID, or a glob of IDs ("lb-*")
        services: ["payments/*", "*/legacy-*"]   # namespace/name globs; default: every Service
        reason: "spot nodes drain nightly; OPS-1234"
        expires: 2027-03-31                 # optional; from that day the entry no longer applies

A suppressed finding is still counted (and listed in JSON); an expired entry is reported,
not applied, so an accepted risk cannot outlive its review date silently.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..errors import UsageError
from ..similar import suggestion

_GLOB = set("*?[")


@dataclass(frozen=True)
class Rule:
    id: str
    services: tuple[str, ...]
    reason: str
    expires: date | None
    where: str            # "ignore.yaml entry 3", for messages

    def applies(self, target: str, finding_id: str) -> bool:
        return fnmatch.fnmatchcase(finding_id, self.id) and any(
            fnmatch.fnmatchcase(target, g) for g in self.services)

    def expired(self, today: date) -> bool:
        return self.expires is not None and today >= self.expires

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "services": list(self.services), "reason": self.reason,
                "expires": self.expires.isoformat() if self.expires else None}


def load(path: str | Path, known_ids: Iterable[str]) -> list[Rule]:
    """The rules in ``path``, or a UsageError naming the file, the entry and what is wrong."""
    from ..sources.kubectl import NoAliasLoader

    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ignore {where}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        doc = yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a safe loader without aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UsageError(f"--ignore {where}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None
    if doc is None:
        return []
    entries = doc.get("ignore") or [] if isinstance(doc, dict) else None
    if not isinstance(entries, list) or set(doc) - {"ignore"}:
        raise UsageError(f"--ignore {where}: expected a top-level `ignore:` list of entries")
    known = set(known_ids)
    rules = []
    for n, entry in enumerate(entries, 1):
        at = f"--ignore {where}: entry {n}"
        if not isinstance(entry, dict):
            raise UsageError(f"{at} is not a mapping (id, services, reason, expires)")
        extra = set(entry) - {"id", "services", "reason", "expires"}
        if extra:
            raise UsageError(f"{at}: unknown field {sorted(extra)[0]!r} (id, services, reason, expires)")
        fid = entry.get("id")
        if not isinstance(fid, str) or not fid:
            raise UsageError(f"{at}: `id` (a finding ID) is required")
        if not (_GLOB & set(fid)) and fid not in known:
            raise UsageError(f"{at}: no finding ID {fid!r}" + (suggestion(fid, known) or
                                                               "; see docs/findings.md"))
        services = entry.get("services", ["*/*"])
        if isinstance(services, str):
            services = [services]
        if not isinstance(services, list) or not services or not all(
                isinstance(s, str) and "/" in s for s in services):
            raise UsageError(f"{at}: `services` must be namespace/name globs, e.g. [\"shop/*\"]")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{at}: `reason` is required (why this finding is accepted)")
        rules.append(Rule(fid, tuple(services), reason.strip(), _date(entry.get("expires"), at),
                          f"{where} entry {n}"))
    return rules


def _date(value: Any, at: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{at}: expires {value!r} is not a date (YYYY-MM-DD)") from None
