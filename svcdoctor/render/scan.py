"""A scan's output: ``text`` (summary table), ``json``, ``markdown``, ``junit``.

The full words of each finding are in the JSON and in ``svcdoctor diagnose``; the other
formats give the root cause of each broken Service and the command for the whole story."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Callable, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..findings import Severity
from ..scan.outcome import Assessment, ServiceOutcome
from .terminal import STYLE, _TRAILING

SHOWN = 50  # broken Services listed in text and markdown; JSON and JUnit hold them all


def _headline(a: Assessment) -> str:
    r, c = a.result, a.counts()
    where = f"{r.scope} — {r.source}"
    reqs = f", {r.requests} API requests" if r.requests else ""
    n = c["services"]
    return f"svcdoctor scan: {where}\n{n} Service{'' if n == 1 else 's'} in {r.seconds:.1f}s{reqs}"


def _tally(a: Assessment) -> str:
    c = a.counts()
    parts = [f"{c['critical']} critical", f"{c['warning']} warning", f"{c['info']} info",
             f"{c['suppressed']} suppressed", f"{c['couldNotVerify']} could not verify"]
    if a.baseline:
        parts.append(f"against {a.baseline}: {c['new']} new, {c['unchanged']} unchanged, {c['cleared']} cleared")
    return " · ".join(parts)


def _root(s: ServiceOutcome) -> str:
    f = s.root
    if f is None:
        return ""
    more = sum(1 for g in s.findings if g.severity != Severity.INFO) - 1
    state = s.state.get(id(f))
    return (f"{f.id}: {f.title}" + (f" (+{more} more)" if more > 0 else "")
            + (f" [{state}]" if state else ""))


def diagnose_command(target: str) -> str:
    ns, _, name = target.partition("/")
    return f"svcdoctor diagnose svc/{name} -n {ns}"


def notes(a: Assessment) -> list[str]:
    r = a.result
    out = []
    if r.interrupted:
        out.append(f"Interrupted: {len(r.reports)} of {r.total} Services diagnosed; the rest were not.")
    for t, why in r.not_diagnosed:
        if not r.interrupted:
            out.append(f"Not diagnosed: {t}: {why}")
    for m in r.missing:
        out.append(f"Could not read {m}")
    for rule in a.expired:
        out.append(f"Expired suppression ({rule.where}, {rule.id} for {', '.join(rule.services)}, "
                   f"expired {rule.expires}): no longer applied")
    for c in a.cleared[:SHOWN]:
        out.append(f"Cleared since the baseline: {c['target']} {c['id']} ({c['subject']})")
    return out


def text(a: Assessment, out: TextIO) -> None:
    probe = Console(file=out)
    buf = io.StringIO()
    con = Console(file=buf, highlight=False, width=max(probe.width, 100), color_system=probe.color_system,
                  force_terminal=probe.is_terminal, no_color=probe.no_color)
    con.print(Text(_headline(a), style="bold"))
    con.print(Text(_tally(a)))
    broken = a.broken()
    con.print()
    if broken:
        t = Table(title=f"Broken Services ({len(broken)}), root cause first", title_justify="left",
                  box=None, pad_edge=False, show_edge=False)
        for col in ("SEVERITY", "SERVICE", "ROOT CAUSE"):
            t.add_column(col, overflow="fold")
        for s in broken[:SHOWN]:
            sev = s.worst.value if s.worst else ""
            t.add_row(Text(sev, style=STYLE[s.worst] if s.worst else ""), Text(s.target), Text(_root(s)))
        con.print(t)
        if len(broken) > SHOWN:
            con.print(Text(f"… and {len(broken) - SHOWN} more (-o json lists every one)"))
        con.print(Text(f"Full report of one: {diagnose_command(broken[0].target)}"))
    else:
        con.print(Text("No Service has a warning or critical finding.", style="bold green"))
    namespaces = a.by_namespace()
    if len(namespaces) > 1:
        con.print()
        t = Table(title="By namespace", title_justify="left", box=None, pad_edge=False, show_edge=False)
        for col in ("NAMESPACE", "SERVICES", "CRITICAL", "WARNING", "OK"):
            t.add_column(col, justify="left" if col == "NAMESPACE" else "right")
        for ns, row in namespaces:
            t.add_row(Text(ns), *(str(row[k]) for k in ("services", "critical", "warning", "ok")))
        con.print(t)
    lines = notes(a)
    if lines:
        con.print()
        for n in lines:
            con.print(Text(n))
    out.write(_TRAILING.sub(r"\1", buf.getvalue()))


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(a: Assessment, out: TextIO) -> None:
    head, tail = _headline(a).split("\n", 1)
    out.write(f"# {_md(head)}\n\n{_md(tail)}\n\n{_tally(a)}\n\n")
    broken = a.broken()
    if broken:
        out.write(f"## Broken Services ({len(broken)})\n\n| Severity | Service | Root cause |\n|---|---|---|\n")
        for s in broken[:SHOWN]:
            out.write(f"| {s.worst.value if s.worst else ''} | `{_md(s.target)}` | {_md(_root(s))} |\n")
        if len(broken) > SHOWN:
            out.write(f"\n… and {len(broken) - SHOWN} more (`-o json` lists every one).\n")
        out.write(f"\nFull report of one: `{diagnose_command(broken[0].target)}`\n")
    else:
        out.write("No Service has a warning or critical finding.\n")
    namespaces = a.by_namespace()
    if len(namespaces) > 1:
        out.write("\n## By namespace\n\n| Namespace | Services | Critical | Warning | OK |\n|---|---:|---:|---:|---:|\n")
        for ns, row in namespaces:
            out.write(f"| `{_md(ns)}` | {row['services']} | {row['critical']} | {row['warning']} | {row['ok']} |\n")
    lines = notes(a)
    if lines:
        out.write("\n## Notes\n\n" + "".join(f"- {_md(n)}\n" for n in lines))


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    """Cluster text as XML 1.0 allows it: an event message may hold control characters."""
    return _NOT_XML.sub("\ufffd", text)


def junit(a: Assessment, out: TextIO) -> None:
    """A testcase per Service (classname its namespace); a failure per warning or critical
    finding (with a baseline: per new one), an error for a Service not diagnosed."""
    r = a.result
    suite = ET.Element("testsuite", name=f"svcdoctor scan: {r.scope}", time=f"{r.seconds:.3f}")
    failures = errors = 0
    for s in a.services:
        ns, _, name = s.target.partition("/")
        case = ET.SubElement(suite, "testcase", classname=f"svcdoctor.{ns}", name=name, time="0")
        failing = [f for f in s.findings if f.severity != Severity.INFO
                   and (not a.baseline or s.state.get(id(f)) == "new")]
        for f in failing:
            el = ET.SubElement(case, "failure", type=f.severity.value, message=_x(f"{f.id}: {f.title}"))
            el.text = _x("\n".join([f.explanation, *(f"$ {x.command}" if x.command else x.text for x in f.fix)]))
        failures += bool(failing)
        quiet = [f for f in s.findings if f not in failing]
        lines = [f"{f.severity.value} {f.id}: {f.title}" + (f" [{s.state[id(f)]}]" if id(f) in s.state else "")
                 for f in quiet]
        lines += [f"suppressed {f.id}: {f.title} ({rule.reason})" for f, rule in s.suppressed]
        lines += [f"could not verify: {f.title}" for f in s.report.could_not_verify]
        if lines:
            ET.SubElement(case, "system-out").text = _x("\n".join(lines))
    for t, why in r.not_diagnosed:
        ns, _, name = t.partition("/")
        case = ET.SubElement(suite, "testcase", classname=f"svcdoctor.{ns}", name=name, time="0")
        ET.SubElement(case, "error", type="not-diagnosed", message=_x(why))
        errors += 1
    suite.set("tests", str(len(a.services) + len(r.not_diagnosed)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def as_json(a: Assessment, out: TextIO) -> None:
    json.dump(a.to_dict(), out, indent=2, default=str)
    out.write("\n")


SCAN_RENDERERS: dict[str, Callable[[Assessment, TextIO], None]] = {
    "text": text, "json": as_json, "markdown": markdown, "junit": junit,
}
