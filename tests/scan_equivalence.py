"""The scan's promise, checked: every Service's findings in a scan are the ones
``svcdoctor diagnose`` reports for it from the same data (probes and cloud off in both).

Live, the two read the cluster moments apart; kwok's heartbeats move a node's timestamps
in between, so ages in texts are compared as ages, not to the second."""

from __future__ import annotations

import difflib
import re
from typing import Any

from svcdoctor import collect
from svcdoctor.cloud import CloudOptions
from svcdoctor.diagnose import diagnose
from svcdoctor.probes import ProbeOptions
from svcdoctor.report import Report
from svcdoctor.scan import Scope, live

_AGE = re.compile(r"\b\d+(?:\.\d+)?(?:ms|s|m|h|d)(?:\d+(?:s|m))?\b")


def findings(report: Report, exact: bool = True) -> list[Any]:
    out = [f.to_dict() for f in report.findings + report.could_not_verify]
    if exact:
        return out
    return [_AGE.sub("<age>", repr({k: v for k, v in f.items()})) for f in out]


def assert_scan_matches_diagnose(kubeconfig: str, scope: Scope, clients: list[dict[str, str]] | None = None,
                                 only: set[str] | None = None) -> int:
    """Scan ``scope`` live, then diagnose each Service (or those in ``only``) on its own;
    returns how many were compared."""
    result = live(scope, kubeconfig=kubeconfig, clients=clients)
    assert not result.not_diagnosed and not result.missing, (result.not_diagnosed, result.missing)
    compared = 0
    for report in result.reports:
        if only is not None and report.target not in only:
            continue
        ns, name = report.target.split("/", 1)
        ev = collect.live(name, ns, kubeconfig=kubeconfig, probe=ProbeOptions(enabled=False),
                          clients=clients, cloud=CloudOptions(cloud="none"))
        alone = diagnose(ev)
        got, want = findings(report, exact=False), findings(alone, exact=False)
        assert got == want, report.target + "\n" + "\n".join(difflib.unified_diff(
            [g for f in want for g in f.split(", '")], [g for f in got for g in f.split(", '")],
            "diagnose", "scan", lineterm="", n=1))
        assert report.verdict.split(" ")[0] == alone.verdict.split(" ")[0]
        compared += 1
    return compared
