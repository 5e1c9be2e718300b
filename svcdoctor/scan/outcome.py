"""What a scan means: each Service's findings after suppressions and against a baseline,
the counts, the ranking of broken Services, the exit code, and the JSON document
(``svcdoctor.scan/v1``, docs/json-output.md) that a later run reads back as its baseline.

A finding is identified across runs by (Service, finding ID, subject): the words may
change with a new svcdoctor, what it is about does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..findings import Finding, Severity
from ..report import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING, Report
from . import ScanResult
from .ignore import Rule

SCHEMA = "svcdoctor.scan/v1"
EXIT_INCOMPLETE = 4   # some Services of the scope got no report (API error mid-scan)
EXIT_INTERRUPTED = 130


@dataclass
class ServiceOutcome:
    report: Report
    findings: list[Finding]                    # not suppressed, rank order
    suppressed: list[tuple[Finding, Rule]]
    state: dict[int, str] = field(default_factory=dict)   # id(finding) → "new" | "unchanged"

    @property
    def target(self) -> str:
        return self.report.target

    @property
    def worst(self) -> Severity | None:
        sev = [f.severity for f in self.findings if f.severity != Severity.INFO]
        return min(sev, key=lambda s: s.rank) if sev else None

    @property
    def root(self) -> Finding | None:
        return next((f for f in self.findings if f.severity != Severity.INFO), None)


@dataclass
class Assessment:
    result: ScanResult
    services: list[ServiceOutcome]
    expired: list[Rule]
    cleared: list[dict[str, str]]      # baseline findings gone now
    baseline: str = ""                 # the baseline file, if any

    def counts(self) -> dict[str, int]:
        out = {"services": len(self.services), "critical": 0, "warning": 0, "info": 0,
               "suppressed": 0, "couldNotVerify": 0, "brokenServices": 0}
        for s in self.services:
            for f in s.findings:
                out[f.severity.value] += 1
            out["suppressed"] += len(s.suppressed)
            out["couldNotVerify"] += len(s.report.could_not_verify)
            out["brokenServices"] += s.worst is not None
        if self.baseline:
            out["new"] = sum(1 for s in self.services for st in s.state.values() if st == "new")
            out["unchanged"] = sum(1 for s in self.services for st in s.state.values() if st == "unchanged")
            out["cleared"] = len(self.cleared)
        return out

    def broken(self) -> list[ServiceOutcome]:
        """Services with a warning or critical finding: critical first, then by how many."""
        hurt = [s for s in self.services if s.worst is not None]
        return sorted(hurt, key=lambda s: (s.worst.rank if s.worst else 9,
                                           -sum(f.severity != Severity.INFO for f in s.findings), s.target))

    def by_namespace(self) -> list[tuple[str, dict[str, int]]]:
        out: dict[str, dict[str, int]] = {}
        for s in self.services:
            row = out.setdefault(s.target.split("/", 1)[0], {"services": 0, "critical": 0, "warning": 0, "ok": 0})
            row["services"] += 1
            worst = s.worst
            row[worst.value if worst else "ok"] += 1
        return sorted(out.items())

    def exit_code(self, fail_on: str | None = None) -> int:
        """``fail_on``: None (like diagnose: 2 critical, 1 warning), "warning", "critical"
        or "none"; with a baseline only new findings count. An incomplete scan is 4, an
        interrupted one 130, whatever was found."""
        if self.result.interrupted:
            return EXIT_INTERRUPTED
        if self.result.not_diagnosed or self.result.missing:
            return EXIT_INCOMPLETE
        sev = {f.severity for s in self.services for f in s.findings
               if not self.baseline or s.state.get(id(f)) == "new"}
        if fail_on == "none":
            return EXIT_OK
        if Severity.CRITICAL in sev:
            return EXIT_CRITICAL
        if Severity.WARNING in sev and fail_on != "critical":
            return EXIT_WARNING
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        services = []
        for s in self.services:
            doc = s.report.to_dict()
            doc["findings"] = [dict(f.to_dict(), **({"baseline": s.state[id(f)]} if id(f) in s.state else {}))
                               for f in s.findings + s.report.could_not_verify]
            if s.suppressed:
                doc["suppressed"] = [dict(f.to_dict(), suppressedBy=rule.to_dict()) for f, rule in s.suppressed]
            services.append(doc)
        return {
            "schema": SCHEMA, "scope": r.scope, "source": r.source,
            "complete": not (r.interrupted or r.not_diagnosed or r.missing),
            "interrupted": r.interrupted, "summary": self.counts(),
            "apiRequests": r.requests, "seconds": round(r.seconds, 3),
            "namespaces": [{"namespace": ns, **row} for ns, row in self.by_namespace()],
            "services": services,
            "notDiagnosed": [{"target": t, "reason": why} for t, why in r.not_diagnosed],
            "missing": r.missing,
            "expiredSuppressions": [rule.to_dict() for rule in self.expired],
            **({"baseline": {"file": self.baseline, "cleared": self.cleared}} if self.baseline else {}),
        }


def key(target: str, f: dict[str, Any] | Finding) -> tuple[str, str, str]:
    if isinstance(f, Finding):
        return target, f.id, f.subject
    return target, str(f.get("id", "")), str(f.get("subject", ""))


def assess(result: ScanResult, rules: list[Rule] = (), baseline: str | Path | None = None,
           today: date | None = None) -> Assessment:
    today = today or date.today()
    active = [r for r in rules if not r.expired(today)]
    expired = [r for r in rules if r.expired(today)]
    before = load_baseline(baseline) if baseline else None
    services = []
    seen: set[tuple[str, str, str]] = set()
    for report in result.reports:
        kept, suppressed = [], []
        for f in report.findings:
            rule = next((r for r in active if r.applies(report.target, f.id)), None)
            if rule is not None:
                suppressed.append((f, rule))
            else:
                kept.append(f)
        out = ServiceOutcome(report, kept, suppressed)
        if before is not None:
            for f in kept:
                k = key(report.target, f)
                seen.add(k)
                out.state[id(f)] = "unchanged" if k in before else "new"
        services.append(out)
    cleared = []
    if before is not None:
        scanned = {r.target for r in result.reports}
        for k, f in sorted(before.items()):
            # A Service this run did not reach cannot say its finding cleared.
            if k not in seen and k[0] in scanned and not any(
                    s.target == k[0] and any(key(k[0], g) == k for g, _ in s.suppressed) for s in services):
                cleared.append({"target": k[0], "id": k[1], "subject": k[2], "severity": f.get("severity", "")})
    return Assessment(result, services, expired, cleared, str(baseline) if baseline else "")


def load_baseline(path: str | Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The findings of a previous ``svcdoctor scan -o json`` (could-not-verify left out)."""
    where = f"--baseline {path}"
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UsageError(f"{where}: not JSON (write it with `svcdoctor scan -o json`)") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("services"), list):
        raise UsageError(f"{where}: not a scan report (schema {SCHEMA}; write it with `svcdoctor scan -o json`)")
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for n, svc in enumerate(doc["services"]):
        if not isinstance(svc, dict) or not isinstance(svc.get("target"), str) or not isinstance(
                svc.get("findings", []), list):
            raise UsageError(f"{where}: services[{n}] is not a Service report")
        for f in svc.get("findings") or []:
            if isinstance(f, dict) and f.get("id") != "could-not-verify":
                out[key(svc["target"], f)] = f
    return out
