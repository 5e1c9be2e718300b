"""Playbooks: the words for each finding ID, kept as data in ``playbooks/<id>.yaml``.

A playbook has ``title``, ``explanation``, ``why``, ``fix`` (steps, each ``text`` and an
optional ``command``) and ``links``. Text holds ``{placeholders}`` filled from the finding's
facts (plus ``namespace`` and ``service``); other braces are literal. An entry written as
``{when: fact, text: "..."}`` (or a fix step with ``when:``) appears only when that fact
has a value; ``when: not fact`` only when it has none. A sentence, paragraph or fix step whose
placeholders have no value in this finding is left out, so one playbook covers the
variants of a finding without conditionals in code.

Operators can point ``--playbooks DIR`` at their own files: each key given there replaces
the built-in one for that ID (e.g. only ``links`` to add an internal runbook), and new
IDs from third-party plugins get their words the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError
from .findings import Finding, FixStep

# Only "{identifier}" is a placeholder; every other brace is literal, so JSON patches
# ('{"spec":...}') and kubectl jsonpath ('{.spec.ports}') need no escaping.
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
KEYS = {"id", "title", "explanation", "why", "fix", "links"}


def format_value(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def fill(template: str, facts: dict[str, Any]) -> str | None:
    """Fill ``{placeholders}``; None when one of them has no value (the text is skipped)."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        value = facts.get(m.group(1))
        if value is None or value == "" or value == [] or value == {}:
            missing = True
            return m.group(0)
        return format_value(value)

    out = PLACEHOLDER.sub(sub, template)
    return None if missing else out


def cause_facts(entry: dict[str, Any], facts: dict[str, Any]) -> dict[str, str]:
    """Facts from one entry of a plugin's cause table (``title``, ``cause``, ``fix`` steps,
    ``link``), filled with ``facts``: ``cause_title``, ``cause``, ``cause_link``, and per step
    ``fixN_text``, ``fixN_command`` and ``fixN_text_only`` (a step without a command)."""
    cause = " ".join(entry["cause"].split())
    out = {"cause_title": fill(entry["title"], facts) or entry["title"], "cause": fill(cause, facts) or cause,
           "cause_link": entry.get("link", "")}
    for i, step in enumerate(entry.get("fix") or [], 1):
        cmd = fill(step["command"], facts) if step.get("command") else ""
        out[f"fix{i}_text"] = fill(step["text"], facts) or ""
        out[f"fix{i}_command"] = cmd or ""
        out[f"fix{i}_text_only"] = "" if cmd else "yes"
    return out


def placeholders(playbook: dict[str, Any]) -> set[str]:
    texts: list[str] = [playbook.get("title", ""), *_paragraphs(playbook.get("explanation")),
                        *_paragraphs(playbook.get("why"))]
    for step in playbook.get("fix") or []:
        texts += [step.get("text", ""), step.get("command", "")]
    texts += [str(p.get("when", "")) and "{" + _gate(p["when"])[0] + "}"
              for key in ("explanation", "why") for p in _entries(playbook.get(key)) if isinstance(p, dict)]
    texts += ["{" + _gate(step["when"])[0] + "}" for step in playbook.get("fix") or [] if step.get("when")]
    for link in playbook.get("links") or []:
        texts += [link["url"], "{" + _gate(link["when"])[0] + "}"] if isinstance(link, dict) else [link]
    return {m for t in texts for m in PLACEHOLDER.findall(t)}


def _entries(value: Any) -> list[Any]:
    if not value:
        return []
    return [value] if isinstance(value, (str, dict)) else list(value)


def _paragraphs(value: Any) -> list[str]:
    return [e["text"] if isinstance(e, dict) else str(e) for e in _entries(value)]


def _gate(when: Any) -> tuple[str, bool]:
    """``when: fact`` → (fact, True); ``when: not fact`` → (fact, False)."""
    text = str(when).strip()
    return (text[4:].strip(), False) if text.startswith("not ") else (text, True)


def _given(facts: dict[str, Any], when: Any) -> bool:
    """A ``when:`` gate: the named fact has a value, or with ``not`` has none (a sentence
    with no placeholder of its own, e.g. "fix the backends first", is shown only then)."""
    if when is None:
        return True
    fact, wanted = _gate(when)
    return bool(facts.get(fact)) is wanted


def _fill_all(value: Any, facts: dict[str, Any]) -> str:
    parts = []
    for entry in _entries(value):
        text, when = (entry.get("text", ""), entry.get("when")) if isinstance(entry, dict) else (str(entry), None)
        filled = fill(text, facts) if _given(facts, when) else None
        if filled:
            parts.append(filled.strip())
    return " ".join(parts)


@dataclass
class Playbooks:
    books: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, override_dir: str | Path | None = None) -> "Playbooks":
        books: dict[str, dict[str, Any]] = {}
        for entry in resources.files("svcdoctor.playbooks").iterdir():
            if entry.name.endswith(".yaml"):
                book = _parse(entry.read_text(encoding="utf-8"), entry.name)
                books[book["id"]] = book
        if override_dir is not None:
            path = Path(override_dir)
            if not path.is_dir():
                raise UsageError(f"--playbooks {override_dir}: not a directory")
            for file in sorted(path.glob("*.y*ml")):
                try:
                    text = file.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise UsageError(f"playbook {file}: cannot read it ({exc.__class__.__name__})") from None
                book = _parse(text, str(file))
                books[book["id"]] = {**books.get(book["id"], {}), **book}
        return cls(books)

    def apply(self, finding: Finding, base_facts: dict[str, Any]) -> None:
        """Fill the finding's words from its playbook."""
        facts = {**base_facts, **finding.facts}
        book = self.books.get(finding.id)
        if book is None:  # a third-party ID without words: say so instead of failing
            finding.title = f"{finding.id} ({finding.subject})"
            finding.explanation = f"No playbook for {finding.id}; facts: {format_value(finding.facts)}"
            return
        finding.title = fill(book.get("title", finding.id), facts) or PLACEHOLDER.sub(
            lambda m: format_value(facts.get(m.group(1), "?")), book.get("title", finding.id))
        finding.explanation = _fill_all(book.get("explanation"), facts)
        finding.why = _fill_all(book.get("why"), facts)
        steps = []
        for step in book.get("fix") or []:
            if not _given(facts, step.get("when")):
                continue
            text = fill(step.get("text", ""), facts)
            command = fill(step["command"], facts) if step.get("command") else ""
            if text is None or command is None:
                continue
            steps.append(FixStep(text.strip(), command.strip()))
        finding.fix = steps
        finding.links = [url for url in (_link(entry, facts) for entry in book.get("links") or []) if url]


def _link(entry: Any, facts: dict[str, Any]) -> str | None:
    """A link belongs to what the finding is about: ``{when: metallb, url: …}`` only for
    MetalLB, ``"{cause_link}"`` only when the cause table names one."""
    if isinstance(entry, dict):
        return fill(entry["url"], facts) if _given(facts, entry.get("when")) else None
    return fill(entry, facts)


def _parse(text: str, where: str) -> dict[str, Any]:
    """One playbook, checked: every key's type, every entry's, so that a wrong one is a
    line naming the key rather than an error while a report is worded."""
    try:
        book = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise UsageError(f"playbook {where}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(book, dict) or not isinstance(book.get("id"), str):
        raise UsageError(f"playbook {where}: expected a mapping with an 'id'")
    unknown = set(book) - KEYS
    if unknown:
        raise UsageError(f"playbook {where}: unknown keys {sorted(unknown, key=str)} (allowed: {sorted(KEYS)})")
    if "title" in book and not isinstance(book["title"], str):
        raise UsageError(f"playbook {where}: title must be text")
    for key in ("explanation", "why"):
        if not isinstance(book.get(key, ""), (str, dict, list)):
            raise UsageError(f"playbook {where}: {key} must be text or a list of sentences")
        for entry in _entries(book.get(key)):
            _check_entry(entry, where, key, "text")
    for key, field in (("fix", "text"), ("links", "url")):
        value = book.get(key)
        if value is not None and not isinstance(value, list):
            raise UsageError(f"playbook {where}: {key} must be a list")
        for entry in value or []:
            _check_entry(entry, where, key, field, plain_ok=key == "links")
            if key == "fix" and not isinstance(entry.get("command", ""), str):
                raise UsageError(f"playbook {where}: a fix step's command must be text")
    return book


def _check_entry(entry: Any, where: str, key: str, field: str, plain_ok: bool = True) -> None:
    if isinstance(entry, str) and plain_ok:
        return
    if not isinstance(entry, dict) or not isinstance(entry.get(field), str):
        shape = f"text or {{{field}: …, when: fact}}" if plain_ok else f"{{{field}: …}}"
        raise UsageError(f"playbook {where}: each entry of {key} must be {shape}")
    allowed = {field, "when"} | ({"command"} if key == "fix" else set())
    if set(entry) - allowed or not isinstance(entry.get("when", ""), str):
        raise UsageError(f"playbook {where}: an entry of {key} has keys {sorted(entry, key=str)} "
                         f"(allowed: {', '.join(sorted(allowed))}; when names a fact)")
