"""The report as Slack Block Kit, within Slack's limits, with cluster text made inert.

Root cause first, as in the terminal: a header with the verdict, one section per finding
with its severity, its evidence as a context block, its fix commands in code blocks; what
could not be verified; the Re-check and Summarize buttons; a footer with the context,
svcdoctor's version and the time taken. Limits (docs.slack.dev, slack_sdk's models): 50
blocks, 3000 characters per section text, 150 per header, 10 elements per context block.
What does not fit is cut with "… see the file": the recording uploaded in the thread holds
everything.

Every string from the cluster (event messages, annotations, names) is escaped for mrkdwn:
``&``, ``<`` and ``>`` become entities, so a pod's event text cannot ping ``<!channel>`` or
smuggle a ``<https://evil|link>``.
"""

from __future__ import annotations

import json
from typing import Any

from ..findings import Finding, Severity
from ..report import Report

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_VALUE = 2000
MORE = "… see the file"
MARK = {Severity.CRITICAL: ":red_circle: *CRITICAL*", Severity.WARNING: ":large_yellow_circle: *WARNING*",
        Severity.INFO: ":large_blue_circle: *INFO*"}
RECHECK, SUMMARIZE = "svcdoctor_recheck", "svcdoctor_summarize"


def escape(text: str) -> str:
    """Slack mrkdwn: the three characters that make mentions and links, as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = text[: limit - len(MORE) - 1]
    if keep.count("```") % 2:  # cut inside a code block: close it
        keep = keep[: limit - len(MORE) - 5] + "\n```"
    return keep + MORE


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}}


def context(*lines: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(line, MAX_SECTION)}
                                            for line in lines[:MAX_CONTEXT_ELEMENTS]]}


def code(command: str) -> str:
    # A command is shown, never interpreted: no ``` inside may end the block early.
    return "```" + escape(command).replace("```", "ʼʼʼ") + "```"


def report_blocks(report: Report, *, footer: str, button_value: str, summarize_button: bool,
                  diff: str = "") -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(report.verdict, MAX_HEADER), "emoji": True}},
        context(escape(f"Service {report.target} · {report.service.get('type', '')}"
                       + (f" · selector {report.service['selector']}" if report.service.get("selector") else ""))),
    ]
    if diff:
        blocks.append(section(diff))
    if report.summary is not None:
        blocks += _summary(report.summary)
    tail = _could_not_verify(report) + [_buttons(button_value, summarize_button), context(escape(footer))]
    room = MAX_BLOCKS - len(blocks) - len(tail) - 1   # one kept for "N more findings"
    shown = 0
    for n, f in enumerate(report.findings, 1):
        parts = _finding(f, n)
        if len(parts) > room:
            break
        blocks += parts
        room -= len(parts)
        shown += 1
    if shown < len(report.findings):
        blocks.append(section(f"_{len(report.findings) - shown} more finding(s) {MORE}._"))
    return blocks + tail


def _finding(f: Finding, n: int) -> list[dict[str, Any]]:
    head = f"{MARK[f.severity]} {n}. *{escape(f.title)}* `{f.id}`"
    if f.caused_by:
        head += f"\n_a consequence of `{f.caused_by}`_"
    body = [section(head + (f"\n{escape(f.explanation)}" if f.explanation else ""))]
    if f.evidence:
        body.append(context(*(":mag: " + escape(r.text) for r in f.evidence)))
    if f.fix:
        steps = [f"{i}. {escape(s.text)}" + (f"\n{code(s.command)}" if s.command else "")
                 for i, s in enumerate(f.fix, 1)]
        body.append(section("*Fix*\n" + "\n".join(steps)))
    return body


def _could_not_verify(report: Report) -> list[dict[str, Any]]:
    if not report.could_not_verify:
        return []
    lines = "\n".join("• " + escape(f.explanation or f.title) for f in report.could_not_verify)
    return [section("*Could not verify*\n" + lines)]


def _summary(summary: Any) -> list[dict[str, Any]]:
    label = f"*Summary* (AI, {escape(summary.model)}; may be wrong)" if summary.grounded else "*Summary*"
    if summary.fallback:
        label += f"\n_{escape(summary.fallback)}; svcdoctor's own summary instead_"
    steps = "\n".join(f"{i}. {escape(s.action)} (`{s.finding}`)" + (f"\n{code(s.command)}" if s.command else "")
                      for i, s in enumerate(summary.plan, 1))
    return [section(f"{label}\n{escape(summary.text)}" + (f"\n{steps}" if steps else ""))]


def _buttons(value: str, summarize_button: bool) -> dict[str, Any]:
    elements = [{"type": "button", "action_id": RECHECK, "text": {"type": "plain_text", "text": "Re-check"},
                 "value": value[:MAX_BUTTON_VALUE]}]
    if summarize_button:
        elements.append({"type": "button", "action_id": SUMMARIZE,
                         "text": {"type": "plain_text", "text": "Summarize"}, "value": value[:MAX_BUTTON_VALUE]})
    return {"type": "actions", "elements": elements}


def diff_text(before: list[str], after: list[str]) -> str:
    """What a re-check changed, by finding ID."""
    cleared = [i for i in before if i not in after]
    stayed = [i for i in after if i in before]
    new = [i for i in after if i not in before]
    parts = [f":white_check_mark: cleared: {', '.join(f'`{i}`' for i in cleared)}" if cleared else "",
             f":hourglass: still there: {', '.join(f'`{i}`' for i in stayed)}" if stayed else "",
             f":new: new: {', '.join(f'`{i}`' for i in new)}" if new else ""]
    return "*Re-checked*\n" + ("\n".join(p for p in parts if p) or "no finding before or after")


def violations(blocks: list[dict[str, Any]]) -> list[str]:
    """Which of Slack's limits ``blocks`` break (empty: the payload is valid to send)."""
    out = []
    if len(blocks) > MAX_BLOCKS:
        out.append(f"{len(blocks)} blocks (max {MAX_BLOCKS})")
    for i, b in enumerate(blocks):
        text = (b.get("text") or {}).get("text", "")
        if b["type"] == "header" and len(text) > MAX_HEADER:
            out.append(f"blocks[{i}] header {len(text)} characters")
        if b["type"] == "section" and len(text) > MAX_SECTION:
            out.append(f"blocks[{i}] section {len(text)} characters")
        if b["type"] == "context" and len(b["elements"]) > MAX_CONTEXT_ELEMENTS:
            out.append(f"blocks[{i}] context has {len(b['elements'])} elements")
        for e in b.get("elements") or []:
            if len(e.get("value", "")) > MAX_BUTTON_VALUE or len(e.get("text", "") if isinstance(e.get("text"), str) else "") > MAX_SECTION:
                out.append(f"blocks[{i}] element too long")
    return out


def button_value(request: Any, finding_ids: list[str]) -> str:
    """What a button carries back: the request and the IDs found, as compact JSON."""
    return json.dumps({"name": request.name, "namespace": request.namespace, "context": request.context,
                       "ids": finding_ids[:40]}, separators=(",", ":"))
