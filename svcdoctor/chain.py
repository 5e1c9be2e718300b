"""An L7 target as a chain: the Ingress, route or URL in front, then each backend Service.

    ingress/NAME, httproute/NAME, https://host/path
        → the front's own report (the L7 checks over the backends in focus)
        → for each backend Service that exists, the ordinary Service diagnosis

Every report comes from :func:`svcdoctor.diagnose.diagnose`; this module only decides
which Services the chain reaches and how to say so. A backend Service's report leaves
the L7 checks out (they ran in the front's report) and says how traffic reaches it.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import SvcdoctorError
from .evidence import Evidence
from .findings import Finding, Severity
from .l7.refs import BackendRef, is_service_ref


def backends(front: Evidence) -> list[tuple[str, str, list[BackendRef]]]:
    """(namespace, name, the references reaching it) for each existing backend Service,
    in the order the front names them."""
    out: dict[tuple[str, str], list[BackendRef]] = {}
    for r in front.l7_refs:
        if is_service_ref(r) and front.service_named(r.namespace, r.name) is not None:
            out.setdefault((r.namespace, r.name), []).append(r)
    return [(ns, name, refs) for (ns, name), refs in out.items()]


def via(refs: list[BackendRef]) -> list[str]:
    """"Ingress shop/web (shop.example.com/ (Prefix)) → port http" for the summary."""
    out = []
    for r in refs:
        where = "default backend" if r.default else f"{','.join(r.hosts) or '*'}{' ' + r.path if r.path else ''}"
        out.append(f"{r.owner_ref} ({where}) → port {r.port if r.port is not None else '(none)'}")
    return out


def diagnose_chain(front: Evidence, backend_evidence: Callable[[str, str], Evidence],
                   run: Callable[[Evidence], Any]) -> Any:
    """The front's report with each backend Service's report in ``backends``."""
    report = run(front)
    for ns, name, refs in backends(front):
        try:
            ev = backend_evidence(name, ns)
        except SvcdoctorError as exc:  # e.g. a recording of another Service: say so, go on
            reason = " ".join(str(exc).split())
            report.could_not_verify.append(Finding(
                "could-not-verify", Severity.INFO, f"Service {ns}/{name}",
                facts={"what": f"backend Service {ns}/{name}", "reason": reason},
                title=f"backend Service {ns}/{name} not diagnosed",
                explanation=f"Could not diagnose backend Service {ns}/{name}: {reason}"))
            continue
        ev.focus, ev.reached_through = [], via(refs)
        report.backends.append(run(ev))
    if report.backends:  # the front's probes, against the backends' findings too
        from .l7.answers import compare
        from .report import describe_probes

        note = compare(front.probe_results, report.findings + [f for b in report.backends for f in b.findings])
        report.probes = f"{describe_probes(front)} — {note}" if note else describe_probes(front)
    return report


def live(kind: str, name: str, namespace: str | None, *, context: str | None = None,
         kubeconfig: str | None = None, timeout: float | None = None, probe: Any = None,
         cloud: Any = None, run: Callable[[Evidence], Any]) -> tuple[Any, Evidence]:
    """An L7 target from the cluster: its front, then each backend Service as ``diagnose``
    reads it (the CLI and the MCP server both come here)."""
    from . import collect

    front = collect.front(kind, name, namespace, context=context, kubeconfig=kubeconfig,
                          timeout=timeout, probe=probe)

    def backend(n: str, ns: str) -> Evidence:
        return collect.live(n, ns, context=context, kubeconfig=kubeconfig, timeout=timeout,
                            probe=probe, cloud=cloud)
    report = diagnose_chain(front, backend, run)
    return report, front
