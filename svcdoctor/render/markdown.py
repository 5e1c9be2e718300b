"""``-o markdown``: for tickets, pull requests and chat."""

from __future__ import annotations

from typing import Any, TextIO

from ..findings import Finding
from ..report import Report


def _finding(f: Finding, n: int, out: TextIO) -> None:
    caused = f" (consequence of `{f.caused_by}`)" if f.caused_by else ""
    out.write(f"### {n}. {f.severity.value.upper()} `{f.id}`: {f.title}{caused}\n\n")
    if f.explanation:
        out.write(f"{f.explanation}\n\n")
    if f.why:
        out.write(f"**Why it breaks traffic:** {f.why}\n\n")
    if f.evidence:
        out.write("**Evidence**\n\n")
        for r in f.evidence:
            out.write(f"- {r.text}\n")
        out.write("\n")
    if f.fix:
        out.write("**Fix**\n\n")
        for i, step in enumerate(f.fix, 1):
            out.write(f"{i}. {step.text}\n")
            if step.command:
                out.write(f"   ```sh\n   {step.command}\n   ```\n")
        out.write("\n")
    for link in f.links:
        out.write(f"- <{link}>\n")
    if f.links:
        out.write("\n")


def _inert(text: str) -> str:
    """A model's words as text: no image or link a renderer would fetch, no HTML."""
    return text.replace("<", "&lt;").replace("](", "]\\(").replace("![", "!\\[")


def _summary(summary: Any, out: TextIO) -> None:
    label = f"Summary (AI, {summary.model}; may be wrong)" if summary.grounded else "Summary"
    out.write(f"### {label}\n\n")
    if summary.fallback:
        out.write(f"_{summary.fallback}; svcdoctor's own summary instead._\n\n")
    out.write(f"{_inert(summary.text)}\n\n")
    for i, step in enumerate(summary.plan, 1):
        mark = " (the model's own suggestion)" if step.source == "model" and step.command else ""
        out.write(f"{i}. {_inert(step.action)} (`{step.finding}`){mark}\n")
        if step.command:
            out.write(f"   ```sh\n   {step.command}\n   ```\n")
    out.write("\n")


def render(report: Report, out: TextIO) -> None:
    _report(report, out)
    for backend in report.backends:  # an L7 target: then each backend Service's own report
        out.write("---\n\n")
        _report(backend, out)


def _report(report: Report, out: TextIO) -> None:
    svc = report.service
    if "backends" in svc:
        out.write(f"## svcdoctor: {svc['type']} `{report.target}`\n\n")
        for line in svc["backends"]:
            out.write(f"- {line}\n")
        out.write("\n" if svc["backends"] else "")
    else:
        out.write(f"## svcdoctor: Service `{report.target}` ({svc['type']})\n\n")
        for line in svc.get("reachedThrough") or []:
            out.write(f"_Reached through {line}_\n\n")
    out.write(f"**{report.verdict}**\n\n")
    out.write(f"_Source: {report.source}_\n\n")
    if report.probes:
        out.write(f"_Probes: {report.probes}_\n\n")
    if report.summary is not None:
        _summary(report.summary, out)
    for n, f in enumerate(report.findings, 1):
        _finding(f, n, out)
    if report.could_not_verify:
        out.write("### Could not verify\n\n")
        for f in report.could_not_verify:
            out.write(f"- {f.explanation or f.title}\n")
        out.write("\n")
