"""Findings: what a check reports, with the evidence that made it fire.

A check fills in the ID (from shared/findings.md), severity, subject, facts and evidence
references. Words (title, explanation, fix commands) come later from the playbook for the
ID, filled in with the facts — detection lives in code, wording lives in playbooks/.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import kube
from .kube import Obj


class Severity(str, enum.Enum):
    CRITICAL = "critical"  # this alone explains why traffic fails
    WARNING = "warning"    # traffic partly fails, or will fail soon
    INFO = "info"          # worth knowing, not a fault

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Ref:
    """One cited piece of evidence: an object field, an event, or a probe outcome."""

    kind: str            # "field" | "event" | "probe" | "gap"
    object: str          # "Service shop/web", "Pod shop/web-1", "node-a:30080"
    text: str            # one line for humans
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "object": self.object, "text": self.text, **self.data}

    @classmethod
    def field(cls, obj: Obj, path: str, value: Any) -> "Ref":
        shown = kube.format_selector(value) if isinstance(value, dict) and path.endswith("selector") else value
        return cls("field", kube.ref(obj), f"{kube.ref(obj)} {path} = {shown}",
                   {"field": path, "value": value})

    @classmethod
    def probe(cls, p: Any) -> "Ref":
        """A probe outcome: target, outcome, latency and details, as recorded."""
        data = p.to_dict()
        data["probe"] = data.pop("kind")  # "kind" is the reference's own (= "probe")
        return cls("probe", p.target, p.describe(), data)

    @classmethod
    def event(cls, evt: Obj, evidence: Any) -> "Ref":
        inv = kube.event_involved(evt)
        obj = f"{inv.get('kind', '?')} {inv.get('namespace') or kube.namespace(evt)}/{inv.get('name', '?')}"
        count = kube.event_count(evt)
        first, last = kube.event_first_seen(evt), kube.event_last_seen(evt)
        when = evidence.event_span(evt)
        source = kube.event_source(evt)
        text = (f"{obj}: {evt.get('type', 'Normal')} {evt.get('reason', '')} "
                f"({source + ', ' if source else ''}{when}): {kube.event_message(evt)}")
        return cls("event", obj, text, {
            "type": evt.get("type", "Normal"), "reason": evt.get("reason", ""),
            "message": kube.event_message(evt), "source": source, "count": count,
            "firstSeen": first.isoformat() if first else None,
            "lastSeen": last.isoformat() if last else None,
            "age": evidence.age(last),
        })


@dataclass
class FixStep:
    text: str
    command: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "command": self.command}


@dataclass
class Finding:
    id: str
    severity: Severity
    subject: str                        # what it is about: "Service shop/web port http (80/TCP)"
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[Ref] = field(default_factory=list)
    # ID of the finding this one is a consequence of; a check may give a tuple of candidate
    # IDs, and the report keeps the first one that fired.
    caused_by: str | tuple[str, ...] | None = None
    check: str = ""                     # "plugin.check", stamped by the host
    # Filled in from the playbook:
    title: str = ""
    explanation: str = ""
    why: str = ""
    fix: list[FixStep] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "severity": self.severity.value, "title": self.title,
            "subject": self.subject, "explanation": self.explanation, "why": self.why,
            "facts": self.facts, "evidence": [r.to_dict() for r in self.evidence],
            "fix": [f.to_dict() for f in self.fix], "links": self.links,
            "caused_by": self.caused_by, "check": self.check,
        }


CheckFunc = Callable[[Any], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    """A pure function from evidence to findings, with the IDs it may emit."""

    name: str                 # "backends.selector", stamped as "<plugin>.<func>"
    func: CheckFunc
    emits: tuple[str, ...]
    plugin: str = ""
    # The target kinds it applies to; the L7 checks also run for ingress/, route and URL targets.
    targets: tuple[str, ...] = ("Service",)
