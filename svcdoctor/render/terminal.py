"""The terminal report: root cause first, evidence, then commands to paste.

rich decides colour: on a TTY only, and never with NO_COLOR set. Cluster data is always
wrapped in Text objects, never parsed as markup, so a label like ``[x]`` prints as is."""

from __future__ import annotations

import io
import re
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..findings import Finding, Severity
from ..report import Report

STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "cyan"}


def _hanging(indent: int, marker: str, body: Text | str, style: str = "") -> Table:
    """``marker`` then ``body``, wrapped lines aligned under the body."""
    grid = Table.grid(padding=0)
    cells: list[Text | str] = []
    if indent:
        grid.add_column(width=indent, no_wrap=True)
        cells.append("")
    if marker:
        grid.add_column(width=len(marker) + 1, no_wrap=True)
        cells.append(marker)
    grid.add_column(ratio=1)
    cells.append(body if isinstance(body, Text) else Text(body, style=style))
    grid.add_row(*cells)
    return grid


_TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.M)


def render(report: Report, out: TextIO) -> None:
    # Render into a buffer with the real terminal's settings, then drop the trailing
    # spaces rich pads table cells with, so files and pipes get clean lines.
    probe = Console(file=out)
    buf = io.StringIO()
    con = Console(file=buf, highlight=False, width=probe.width, color_system=probe.color_system,
                  force_terminal=probe.is_terminal, no_color=probe.no_color)
    _render(con, report)
    for backend in report.backends:  # an L7 target: then each backend Service's own report
        con.print()
        con.rule(Text(f"backend Service {backend.target}", style="bold"))
        _render(con, backend)
    out.write(_TRAILING.sub(r"\1", buf.getvalue()))


def _render(con: Console, report: Report) -> None:
    svc = report.service
    if "backends" in svc:
        _front_head(con, report)
    else:
        _service_head(con, report)
    if report.probes:
        con.print(Text(f"probes: {report.probes}", style="dim"))
    con.print()
    top = report.findings[0].severity if report.findings else None
    style = STYLE[top] if top in (Severity.CRITICAL, Severity.WARNING) else "bold green"
    con.print(Text(report.verdict, style=style))
    if report.summary is not None:
        _summary(con, report.summary)
    for n, f in enumerate(report.findings, 1):
        con.print()
        _finding(con, f, n)
    if report.could_not_verify:
        con.print()
        con.print(Text("Could not verify", style="bold"))
        for f in report.could_not_verify:
            con.print(_hanging(0, "•", f.explanation or f.title))


def _front_head(con: Console, report: Report) -> None:
    svc = report.service
    head = Text("svcdoctor ", style="bold")
    head.append(report.target if svc["type"] == "URL" else f"{svc['type']} {report.target.split(' ', 1)[-1]}",
                style="bold")
    con.print(head)
    con.print(Text(f"source: {report.source}", style="dim"))
    for line in svc["backends"] or ["no backend"]:
        con.print(_hanging(1, "→", Text(line, style="dim")))


def _service_head(con: Console, report: Report) -> None:
    svc = report.service
    head = Text("svcdoctor ", style="bold")
    head.append(f"Service {report.target}", style="bold")
    extra = [svc["type"]]
    if svc.get("selector"):
        extra.append(f"selector {svc['selector']}")
    if svc.get("externalName"):
        extra.append(f"externalName {svc['externalName']}")
    head.append(f"  ({', '.join(extra)})")
    con.print(head)
    con.print(Text(f"source: {report.source}", style="dim"))
    for line in svc.get("reachedThrough") or []:
        con.print(Text(f"reached through {line}", style="dim"))


def _summary(con: Console, summary: Any) -> None:
    con.print()
    label = (f"Summary (AI, {summary.model}; may be wrong — the findings below are the diagnosis)"
             if summary.grounded else "Summary")
    con.print(Text(label, style="bold"))
    if summary.fallback:
        con.print(_hanging(3, "", Text(f"({summary.fallback}; svcdoctor's own summary instead)", style="dim")))
    con.print(_hanging(3, "", summary.text))
    for i, step in enumerate(summary.plan, 1):
        mark = " (the model's own suggestion)" if step.source == "model" and step.command else ""
        con.print(_hanging(4, f"{i}.", Text(step.action) + Text(f" [{step.finding}]{mark}", style="dim")))
        if step.command:
            con.print(Text(" " * 9 + "$ " + step.command, style="green"), soft_wrap=True)
    if summary.grounded:
        usage = (f"{summary.prompt_tokens + summary.completion_tokens} tokens "
                 f"({summary.prompt_tokens} in, {summary.completion_tokens} out)")
        cost = f", ${summary.cost:.4f}" if summary.cost is not None else ""
        con.print(_hanging(3, "", Text(("cached answer, " if summary.cached else "") + usage + cost, style="dim")))


def _finding(con: Console, f: Finding, n: int) -> None:
    ind = 3 if f.caused_by else 0
    title = Text()
    title.append(f.severity.value.upper(), style=STYLE[f.severity])
    title.append(f" {f.title} ", style="bold")
    title.append(f"[{f.id}]", style="dim")
    con.print(_hanging(ind, f"{n}.", title))
    body = ind + 3
    if f.caused_by:
        con.print(_hanging(body, "", Text(f"a consequence of {f.caused_by} above", style="dim italic")))
    if f.explanation:
        con.print(_hanging(body, "", f.explanation))
    if f.why:
        con.print(_hanging(body, "", Text("Why it breaks traffic: ", style="bold") + Text(f.why)))
    if f.evidence:
        con.print(_hanging(body, "", Text("Evidence", style="bold")))
        for r in f.evidence:
            con.print(_hanging(body + 1, "•", r.text))
    if f.fix:
        con.print(_hanging(body, "", Text("Fix", style="bold")))
        for i, step in enumerate(f.fix, 1):
            con.print(_hanging(body + 1, f"{i}.", step.text))
            if step.command:
                # Commands are never wrapped: they must paste as one line.
                con.print(Text(" " * (body + 5) + "$ " + step.command, style="green"), soft_wrap=True)
    for link in f.links:
        con.print(Text(" " * body + "→ " + link, style="dim"), soft_wrap=True)
