"""evidence → checks → ranked, worded report. The one entry point every surface calls."""

from __future__ import annotations

from typing import Iterable

from . import loadbalancers
from . import registry as registry_mod
from .errors import UsageError
from .evidence import Evidence
from .findings import Finding, Ref, Severity
from .l7 import answers
from .wording import Playbooks
from .report import Report, describe_probes, describe_service, rank, verdict
from .similar import suggestion

COULD_NOT_VERIFY = "could-not-verify"


def diagnose(evidence: Evidence, *, playbooks: Playbooks | None = None,
             registry: registry_mod.Registry | None = None,
             disable: Iterable[str] = ()) -> Report:
    """Run every registered check over ``evidence`` and build the report.

    ``disable`` names checks (``plugin.check`` or just ``plugin``) to skip."""
    registry = registry or registry_mod.default()
    playbooks = playbooks or Playbooks.load()
    disabled = set(disable)
    known = {c.name for c in registry.checks} | {c.plugin for c in registry.checks}
    for name in sorted(disabled - known):  # a typo must not silently keep the check running
        raise UsageError(f"--disable {name}: no such check or plugin"
                         + (suggestion(name, known) or "; `svcdoctor plugins` lists them"))
    if evidence.target.kind == "Service":
        loadbalancers.detect(evidence, registry)
    findings: list[Finding] = []
    for check in registry.checks:
        if check.name in disabled or check.plugin in disabled:
            continue
        if evidence.target.kind not in check.targets:
            continue
        try:
            produced = list(check.func(evidence))
        except Exception as exc:  # one broken check must not hide the others' findings
            produced = [Finding(COULD_NOT_VERIFY, Severity.INFO, f"check {check.name}",
                                facts={"what": f"the check {check.name}",
                                       "reason": f"it failed: {type(exc).__name__}: {exc}"})]
        for f in produced:
            f.check = f.check or check.name
            findings.append(f)
    for gap in evidence.gaps:
        findings.append(Finding(COULD_NOT_VERIFY, Severity.INFO, gap.what,
                                facts={"what": gap.what, "reason": gap.reason},
                                evidence=[Ref("gap", gap.what, f"{gap.what}: {gap.reason}")],
                                check="core.gaps"))
    base = {"namespace": evidence.target.namespace, "service": evidence.target.name}
    for f in findings:
        playbooks.apply(f, base)
    ranked = rank([f for f in findings if f.id != COULD_NOT_VERIFY])
    unknown = [f for f in findings if f.id == COULD_NOT_VERIFY]
    service = describe_service(evidence)
    probes = describe_probes(evidence)
    l7 = answers.compare(evidence.probe_results, ranked)
    return Report(str(evidence.target), evidence.source, service, ranked,
                  verdict(str(evidence.target), ranked, service), unknown,
                  f"{probes} — {l7}" if l7 else probes)
