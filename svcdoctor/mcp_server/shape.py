"""What an agent gets back: the report cut to what a model can use, bounded in size.

No raw objects: each finding keeps its ID, severity, words, fix commands and its evidence
as references (the object named, one line quoted). Every string is masked like a
recording's, then cut. The TypedDicts are the tools' output schemas (docs/mcp.md).
"""

from __future__ import annotations

import json
from typing import Any

from typing_extensions import TypedDict

from ..findings import Finding
from ..redact import mask_text
from ..report import Report

MAX_FINDINGS = 12          # per report; the rest are counted in "omitted"
MAX_EVIDENCE = 5           # references per finding
MAX_FIX = 4                # fix steps per finding
MAX_UNVERIFIED = 10
MAX_BROKEN = 40            # Services listed in a scan
MAX_TEXT = 600             # characters of an explanation
MAX_BYTES = 24_000         # a report's JSON; past it, detail goes before findings do
MAX_LINE = 300             # characters of a quoted line or command


class EvidenceRef(TypedDict):
    kind: str               # field | event | probe | gap
    object: str             # "Pod shop/web-1"
    text: str               # one line, masked and cut


class FixStep(TypedDict):
    text: str
    command: str            # "" when the step is advice only


class FindingOut(TypedDict):
    id: str                 # from the public list of finding IDs (explain_finding explains it)
    severity: str           # critical | warning | info
    title: str
    subject: str
    explanation: str
    causedBy: str | None    # the ID of the finding this one follows from
    evidence: list[EvidenceRef]
    fix: list[FixStep]


class Unverified(TypedDict):
    what: str
    reason: str


class BackendReport(TypedDict):
    target: str
    verdict: str
    exitCode: int
    findings: list[FindingOut]
    couldNotVerify: list[Unverified]
    omitted: int            # findings left out to keep the answer small


class ReportOut(TypedDict):
    target: str             # "shop/web", "ingress shop/cart", a URL
    verdict: str            # one line, root cause first
    exitCode: int           # 0 no problem, 1 warning, 2 critical
    source: str
    probes: str             # what was probed, or why not
    findings: list[FindingOut]
    couldNotVerify: list[Unverified]
    omitted: int
    backends: list[BackendReport]   # an Ingress / route / URL: each backend Service's report


class BrokenService(TypedDict):
    service: str
    severity: str
    rootCause: str          # finding ID
    title: str
    findings: int           # warning and critical findings of this Service
    command: str            # the diagnose_service call (and CLI command) for the whole story


class NamespaceRow(TypedDict):
    namespace: str
    services: int
    critical: int
    warning: int
    ok: int


class ScanOut(TypedDict):
    scope: str
    complete: bool
    exitCode: int
    summary: dict[str, int]         # services, critical, warning, info, couldNotVerify, brokenServices...
    broken: list[BrokenService]     # ranked: critical first, then by how many findings
    omitted: int
    namespaces: list[NamespaceRow]
    notDiagnosed: list[Unverified]
    missing: list[str]


def text(value: Any, limit: int = MAX_LINE) -> str:
    s = mask_text(" ".join(str(value or "").split()))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def finding(f: Finding) -> FindingOut:
    return {"id": f.id, "severity": f.severity.value, "title": text(f.title), "subject": text(f.subject),
            "explanation": text(f.explanation, MAX_TEXT),
            "causedBy": f.caused_by if isinstance(f.caused_by, str) else None,
            "evidence": [{"kind": r.kind, "object": text(r.object), "text": text(r.text)}
                         for r in f.evidence[:MAX_EVIDENCE]],
            "fix": [{"text": text(s.text), "command": text(s.command)} for s in f.fix[:MAX_FIX]]}


def unverified(f: Finding) -> Unverified:
    return {"what": text(f.facts.get("what") or f.subject), "reason": text(f.facts.get("reason") or f.explanation)}


def _common(r: Report) -> dict[str, Any]:
    return {"target": text(r.target), "verdict": text(r.verdict, MAX_TEXT), "exitCode": r.exit_code,
            "findings": [finding(f) for f in r.findings[:MAX_FINDINGS]],
            "couldNotVerify": [unverified(f) for f in r.could_not_verify[:MAX_UNVERIFIED]],
            "omitted": max(0, len(r.findings) - MAX_FINDINGS)}


def report(r: Report) -> ReportOut:
    out: Any = {**_common(r), "source": text(r.source), "probes": text(r.probes, MAX_TEXT),
                "backends": [_common(b) for b in r.backends[:5]]}
    return bounded(out)


def size(doc: Any) -> int:
    return len(json.dumps(doc, ensure_ascii=False).encode())


def bounded(out: Any, limit: int = MAX_BYTES) -> Any:
    """Cut detail until the answer fits ``limit`` bytes: first the evidence and fix steps
    of the later findings, then those findings themselves (counted in ``omitted``)."""
    reports = [out, *out.get("backends", [])]
    for keep in (2, 1):
        if size(out) <= limit:
            return out
        for rep in reports:
            for f in rep["findings"][1:]:
                f["evidence"], f["fix"] = f["evidence"][:keep], f["fix"][:keep]
    while size(out) > limit:
        rep = max(reports, key=lambda x: len(x["findings"]))
        if len(rep["findings"]) <= 1:
            rep["couldNotVerify"] = rep["couldNotVerify"][: max(0, len(rep["couldNotVerify"]) - 1)]
            if not rep["couldNotVerify"]:
                break
            continue
        rep["findings"].pop()
        rep["omitted"] += 1
    return out


def scan(a: Any, exit_code: int) -> ScanOut:
    """``a``: a :class:`svcdoctor.scan.outcome.Assessment`."""
    r = a.result
    broken = a.broken()
    rows: list[BrokenService] = []
    for s in broken[:MAX_BROKEN]:
        root = s.root
        ns, _, name = s.target.partition("/")
        rows.append({"service": s.target, "severity": s.worst.value if s.worst else "",
                     "rootCause": root.id if root else "", "title": text(root.title) if root else "",
                     "findings": sum(1 for f in s.findings if f.severity.value != "info"),
                     "command": f"svcdoctor diagnose svc/{name} -n {ns}"})
    return {"scope": text(r.scope), "complete": not (r.interrupted or r.not_diagnosed or r.missing),
            "exitCode": exit_code, "summary": a.counts(), "broken": rows,
            "omitted": max(0, len(broken) - MAX_BROKEN),
            "namespaces": [{"namespace": ns, **row} for ns, row in a.by_namespace()[:MAX_BROKEN]],  # type: ignore[typeddict-item]
            "notDiagnosed": [{"what": t, "reason": text(why)} for t, why in r.not_diagnosed[:MAX_UNVERIFIED]],
            "missing": [text(m) for m in r.missing[:MAX_UNVERIFIED]]}
