"""The tools' bodies: each a call of the CLI's own path (collect → diagnose, chain, scan),
checked against the server's allow-list first, its answer shaped by :mod:`.shape`.

Nothing else is reachable: no generic get/list, no write, no Secret. Probes run only when
a call asks (``probe=true``) and, as in the CLI, only to the Service's own addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import chain, collect, probes
from ..diagnose import diagnose
from ..errors import UsageError
from ..l7 import ROUTE_KINDS
from ..slack.access import IN_CLUSTER, Policy
from ..slack.commands import Request, ScanRequest
from ..target import check_namespace, parse_service_ref
from ..wording import Playbooks, format_value
from . import shape

ENTRY = "mcp"   # the allow-list's entry in an access file (svcdoctor/slack/access.py's format)


@dataclass
class Tools:
    kubeconfig: str | None = None
    request_timeout: float | None = None
    policy: Policy | None = None      # None: whatever the kubeconfig's identity may read
    entry: str = ENTRY
    source: str | None = None         # a recording or kubectl output to serve instead (--from)

    # --- the allow-list ------------------------------------------------------------------

    def allowed(self, namespace: str | None, context: str | None,
                every_namespace: bool = False) -> tuple[str | None, str | None]:
        """(namespace, context) the call may use, or UsageError saying why not."""
        if namespace is not None:
            check_namespace(namespace)
        if self.source and context:
            raise UsageError(f"this server reads {self.source}, not a cluster: leave out context")
        if self.policy is None:
            return namespace, context
        from ..slack.access import Denied

        try:
            asked: Any = (ScanRequest(None, context, all_namespaces=True) if every_namespace
                          else Request("x", namespace, context))
            decided = self.policy.decide(asked, self.entry, "mcp")
        except Denied as exc:
            raise UsageError(str(exc).replace("this channel", "this server")) from None
        ctx = decided.context
        return (None if every_namespace else decided.namespace), (None if ctx == IN_CLUSTER else ctx)

    def _backends_allowed(self, report: Any) -> Any:
        """Drop backend reports of namespaces the allow-list does not grant."""
        if self.policy is None:
            return report
        grant = self.policy.channels[self.entry].namespaces if self.entry in self.policy.channels else ()
        if "*" in grant:
            return report
        kept = [b for b in report.backends if b.target.split("/", 1)[0] in grant]
        report.backends = kept
        return report

    def _probe(self, probe: bool) -> probes.ProbeOptions:
        return probes.ProbeOptions(enabled=bool(probe))

    # --- the tools ------------------------------------------------------------------------

    def diagnose_service(self, namespace: str, name: str, context: str | None = None,
                         probe: bool = False) -> shape.ReportOut:
        ns, ctx = self.allowed(namespace, context)
        if self.source:
            evidence = collect.offline(self.source, parse_service_ref(name), ns)
        else:
            evidence = collect.live(parse_service_ref(name), ns, context=ctx, kubeconfig=self.kubeconfig,
                                    timeout=self.request_timeout, probe=self._probe(probe))
        return shape.report(diagnose(evidence))

    def diagnose_front(self, kind: str, namespace: str | None, name: str, context: str | None = None,
                       probe: bool = False) -> shape.ReportOut:
        """An Ingress, a route or a URL and each backend Service behind it."""
        if kind == "URL":
            _, ctx = self.allowed(None, context, every_namespace=True)
            ns = None
        else:
            ns, ctx = self.allowed(namespace, context)
        if self.source:
            source = self.source
            front = collect.offline(source, name, ns, None, kind)
            report = chain.diagnose_chain(front, lambda n, s: collect.offline(source, n, s), diagnose)
        else:
            report, _ = chain.live(kind, name, ns, context=ctx, kubeconfig=self.kubeconfig,
                                   timeout=self.request_timeout, probe=self._probe(probe), run=diagnose)
        return shape.report(self._backends_allowed(report))

    def scan(self, namespace: str | None = None, all_namespaces: bool = False,
             fail_on: str | None = None) -> shape.ScanOut:
        from ..scan import Scope, live
        from ..scan.outcome import assess

        if fail_on not in (None, "warning", "critical", "none"):
            raise UsageError(f"fail_on {fail_on!r}: use warning, critical or none")
        if all_namespaces and namespace:
            raise UsageError("give namespace or all_namespaces, not both")
        if not all_namespaces and not namespace:
            raise UsageError("give a namespace, or all_namespaces: true")
        ns, ctx = self.allowed(namespace, None, every_namespace=all_namespaces)
        scope = Scope(namespace=ns, all_namespaces=all_namespaces)
        if self.source:
            from ..scan import offline

            result = offline(self.source, scope)
        else:
            result = live(scope, context=ctx, kubeconfig=self.kubeconfig, timeout=self.request_timeout)
        a = assess(result)
        return shape.scan(a, a.exit_code(fail_on))


def route_kind(kind: str) -> str:
    for k in ROUTE_KINDS:
        if k.lower() == kind.lower():
            return k
    raise UsageError(f"route kind {kind!r}: use one of {', '.join(ROUTE_KINDS)}")


# --- the playbooks, for explain_finding and the resources --------------------------------

def finding_ids(playbooks: Playbooks) -> list[dict[str, str]]:
    return [{"id": fid, "title": str(book.get("title", fid))} for fid, book in sorted(playbooks.books.items())]


def explain(playbooks: Playbooks, finding_id: str) -> str:
    """The playbook of ``finding_id`` as Markdown ({placeholders} are filled per finding)."""
    from ..similar import suggestion

    book = playbooks.books.get(finding_id)
    if book is None:
        raise UsageError(f"no finding ID {finding_id!r}" + (suggestion(finding_id, playbooks.books)
                                                            or "; list_finding_ids gives them all"))
    lines = [f"# {finding_id}", "", f"**{book.get('title', finding_id)}**", ""]
    lines += [_paragraph(p) for p in _list(book.get("explanation"))] + [""]
    if book.get("why"):
        lines += ["## Why it breaks traffic", "", " ".join(str(book["why"]).split()), ""]
    steps = _list(book.get("fix"))
    if steps:
        lines += ["## Fix", ""]
        for step in steps:
            text = step.get("text", "") if isinstance(step, dict) else str(step)
            cond = f" (when {step['when']})" if isinstance(step, dict) and step.get("when") else ""
            lines.append(f"- {text}{cond}")
            if isinstance(step, dict) and step.get("command"):
                lines.append(f"  `{step['command']}`")
        lines.append("")
    links = [entry if isinstance(entry, str) else format_value(entry) for entry in _list(book.get("links"))]
    if links:
        lines += ["## Links", ""] + [f"- {u}" for u in links] + [""]
    lines.append("Words in {braces} are filled from each finding's facts.")
    return "\n".join(lines)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([value] if value else [])


def _paragraph(p: Any) -> str:
    if isinstance(p, dict):
        return f"{p.get('text', '')} (when {p.get('when')})"
    return str(p)
