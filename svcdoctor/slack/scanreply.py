"""A scan's answer in Slack: a summary as Block Kit, and the full JSON document as the file.

The summary is what on-call needs first: how many Services are broken and how badly, each
broken Service with its root-cause finding (the first ``SHOWN``, then "and N more"), the
command for the whole story of the first, what could not be verified and what was not
diagnosed. Everything else is in the file: ``svcdoctor.scan/v1``, as ``svcdoctor scan -o json``
writes it, usable as a later scan's ``--baseline``.

Cluster text is masked (svcdoctor.redact, as the diagnose recording is) and made inert:
``<``, ``>`` and ``&`` as entities (blocks.escape), a word joiner after ``@`` so a bare
``@here`` cannot notify anyone, and every mrkdwn object ``verbatim`` (Slack links nothing).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..findings import Severity
from ..redact import mask_text, redact_external
from ..render.scan import diagnose_command, notes
from ..scan.outcome import Assessment, ServiceOutcome
from . import blocks

SHOWN = 15        # broken Services listed; the file holds them all
NOTES = 10        # not-diagnosed / unreadable lines
MAX_LINE = 500    # one Service's line, so a few sections always hold SHOWN of them
MARK = {Severity.CRITICAL: ":red_circle:", Severity.WARNING: ":large_yellow_circle:"}
_AT = re.compile(r"@(?=\w)")


def inert(text: str) -> str:
    """Cluster text, safe in mrkdwn: credentials masked, no links, no mentions."""
    return _AT.sub("@\u2060", blocks.escape(mask_text(str(text))))


def message(a: Assessment, *, footer: str) -> dict[str, Any]:
    """chat.update arguments: the notification text and the blocks (within Slack's limits)."""
    r, c = a.result, a.counts()
    broken = a.broken()
    scope = inert(r.scope)
    out: list[dict[str, Any]] = [_header(a, broken), _section(
        f"Findings: *{c['critical']}* critical · *{c['warning']}* warning · *{c['info']}* info · "
        f"*{c['couldNotVerify']}* could not verify" + (f" · *{c['suppressed']}* suppressed" if c["suppressed"] else ""))]
    if broken:
        lines = [blocks.cut(_line(s), MAX_LINE) for s in broken[:SHOWN]]
        if len(broken) > SHOWN:
            lines.append(f"_… and {len(broken) - SHOWN} more: every one is in the file_")
        out += _packed(f"*Broken Services ({len(broken)})*, root cause first", lines)
        command = diagnose_command(broken[0].target)
        out.append(_section(f"*The whole story of `{inert(broken[0].target)}`*, with its fix:\n"
                            f"{blocks.code(command)}\n(or `/{inert(command)}` in the channel)"))
    # The most troubled namespaces first: with dozens of them, those are the ones to show.
    namespaces = sorted(a.by_namespace(), key=lambda nr: (-nr[1]["critical"], -nr[1]["warning"], nr[0]))
    if len(namespaces) > 1:
        rows = [f"`{inert(ns)}` {_n(row['services'], 'Service')}: {row['critical']} critical, {row['warning']} warning, "
                f"{row['ok']} ok" for ns, row in namespaces[:SHOWN]]
        if len(namespaces) > SHOWN:
            rows.append(f"_… and {len(namespaces) - SHOWN} more namespaces (in the file)_")
        out += _packed("*By namespace*", rows)
    said = notes(a)
    if said:
        lines = [blocks.cut(inert(n), MAX_LINE) for n in said[:NOTES]]
        if len(said) > NOTES:
            lines.append(f"_… and {len(said) - NOTES} more (in the file)_")
        out += _packed(":warning: *Not everything was diagnosed*", lines)
    out.append(_context(inert(footer)))
    text = (f"svcdoctor scan of {scope}: {len(broken)} of {_n(c['services'], 'Service')} broken "
            f"({c['critical']} critical, {c['warning']} warning findings)"
            + ("; incomplete" if r.interrupted or r.not_diagnosed or r.missing else ""))
    return {"text": text, "blocks": out}


def document(a: Assessment) -> str:
    """The file: the full scan JSON. It holds no credential by construction; masked anyway,
    as the diagnose recording is, since finding texts quote cluster text."""
    return json.dumps(redact_external(a.to_dict()), indent=2, default=str) + "\n"


def _header(a: Assessment, broken: list[ServiceOutcome]) -> dict[str, Any]:
    r, n = a.result, len(a.services)
    worst = broken[0].worst if broken else None   # broken() ranks critical first
    mark = MARK[worst] if worst else ":white_check_mark:"
    if broken:
        title = f"{len(broken)} of {_n(n, 'Service')} broken in {r.scope}"
    elif n:
        title = f"No broken Service in {r.scope} ({n} scanned)"
    else:
        title = f"No Service in {r.scope}"
    if r.interrupted or r.not_diagnosed or r.missing:
        mark, title = ":warning:", title + " (incomplete)"
    return {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                       "text": blocks.cut(f"{mark} {title}", blocks.MAX_HEADER)}}


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _line(s: ServiceOutcome) -> str:
    f = s.root
    if f is None or s.worst is None:  # broken() lists only Services with a root cause
        return f"`{inert(s.target)}`"
    more = sum(1 for g in s.findings if g.severity != Severity.INFO) - 1
    return (f"{MARK[s.worst]} *{inert(s.target)}* `{inert(f.id)}` {inert(f.title)}"
            + (f" _(+{more} more)_" if more > 0 else ""))


def _packed(head: str, lines: list[str]) -> list[dict[str, Any]]:
    """``head`` and ``lines`` in as few sections as fit Slack's 3000 characters each."""
    out, text = [], head
    for line in lines:
        if len(text) + 1 + len(line) > blocks.MAX_SECTION:
            out.append(_section(text))
            text = line
        else:
            text += "\n" + line
    return out + [_section(text)]


def _section(text: str) -> dict[str, Any]:
    block = blocks.section(text)
    block["text"]["verbatim"] = True
    return block


def _context(*lines: str) -> dict[str, Any]:
    block = blocks.context(*lines)
    for element in block["elements"]:
        element["verbatim"] = True
    return block
