"""The Slack adapter: a request from Slack → the same collect + diagnose the CLI runs →
Block Kit in a thread, with the recording attached.

Flow for ``/svcdoctor diagnose svc/web -n shop`` (slash commands cannot be used in
threads, so the bot makes one): ack at once → parse strictly → rate limit → access policy
(default deny, before any API call) → post "diagnosing…" → diagnose in a bounded pool with
a timeout → update that message with the report → upload the recording in its thread.
A mention does the same in the thread it was written in. Re-check re-runs the same
read-only diagnosis and updates the message with what cleared, stayed or is new;
Summarize adds the optional LLM summary.

``/svcdoctor scan -n shop`` takes the same steps through ``svcdoctor.scan.live`` (the CLI's
scan, probes off): the message is the summary (scanreply) and the file the scan's JSON.

Each request is logged as one JSON line (who, channel, target, context, outcome, duration;
a scan adds its counts and broken Services); tokens are never logged or echoed.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass
from typing import Any, Callable

from .. import __version__, collect, probes
from ..diagnose import diagnose
from ..errors import SvcdoctorError, UsageError
from ..redact import mask_text
from ..report import Report
from ..sources.recording import dump, recording_document
from ..scan.outcome import SCHEMA as SCAN_SCHEMA
from ..scan.outcome import Assessment
from . import blocks, scanreply
from .access import IN_CLUSTER, Denied, Policy, RateLimit
from .commands import USAGE, Help, Request, ScanRequest, parse

log = logging.getLogger("svcdoctor.slack")


@dataclass
class Outcome:
    report: Report | None
    evidence: Any
    error: str = ""
    seconds: float = 0.0
    assessment: Assessment | None = None   # a scan's answer (report and evidence stay None)


class Bot:
    """Everything the Slack app does, apart from talking HTTP to Slack."""

    def __init__(self, policy: Policy, *, kubeconfig: str | None = None, request_timeout: float | None = None,
                 probe: probes.ProbeOptions | None = None, summaries: bool = False,
                 audit: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.policy = policy
        self.kubeconfig = kubeconfig
        self.request_timeout = request_timeout
        self.probe = probe or probes.ProbeOptions()
        self.summaries = summaries
        self.rate = RateLimit(policy.per_user, policy.per_seconds)
        self.pool = ThreadPoolExecutor(max_workers=policy.concurrent, thread_name_prefix="svcdoctor-diagnose")
        self.slots = threading.BoundedSemaphore(policy.concurrent)
        self.audit = audit or _log_line
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_lock = threading.Lock()

    # --- what Slack asked ------------------------------------------------------------

    def first_time(self, key: str) -> bool:
        """False for an event Slack delivers again (its retries), by event ID."""
        with self._seen_lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > 5000:
                self._seen.popitem(last=False)
            return True

    def admit(self, text: str, channel: str, user: str,
              groups_of: Callable[[str], set[str]]) -> Request | ScanRequest:
        """The request to run, or Help / UsageError / Denied with what to tell the user."""
        request = parse(text)
        if not self.rate.allow(user):
            raise Denied(f"you asked for {self.policy.per_user} diagnoses within {self.policy.per_seconds:g}s; "
                         "wait a moment")
        return self.policy.decide(request, channel, user, groups_of)

    # --- the diagnosis, bounded --------------------------------------------------------

    def run(self, request: Request | ScanRequest) -> Outcome:
        """Diagnose (or scan) in the pool, within the policy's timeout; never raises."""
        if not self.slots.acquire(blocking=False):
            return Outcome(None, None, f"busy: {self.policy.concurrent} diagnoses are running; try again shortly")
        start = time.monotonic()

        def job() -> Outcome:
            try:
                return self._guarded(lambda: self._scan(request) if isinstance(request, ScanRequest)
                                     else self._diagnose(request))
            finally:
                self.slots.release()

        future = self.pool.submit(job)
        try:
            outcome = future.result(timeout=self.policy.timeout)
        except TimeoutError:
            return Outcome(None, None, f"timed out after {self.policy.timeout:g}s", time.monotonic() - start)
        outcome.seconds = time.monotonic() - start
        return outcome

    @staticmethod
    def _guarded(work: Callable[[], Outcome]) -> Outcome:
        """``work()``, its error as the one line the user sees."""
        try:
            return work()
        except SvcdoctorError as exc:
            return Outcome(None, None, " ".join(str(exc).split()))
        except Exception as exc:  # noqa: BLE001 - the bot keeps serving; the user sees one line
            log.exception("diagnosis failed")
            return Outcome(None, None, f"internal error ({type(exc).__name__}); the bot's log has the details")

    def _diagnose(self, request: Request) -> Outcome:
        context = None if request.context == IN_CLUSTER else request.context
        evidence = collect.live(request.name, request.namespace, context=context, kubeconfig=self.kubeconfig,
                                timeout=self.request_timeout, probe=self.probe)
        report = diagnose(evidence)
        if request.summarize:
            report.summary = self.summary(report, evidence)
        return Outcome(report, evidence)

    def _scan(self, request: ScanRequest) -> Outcome:
        # The CLI's own scan, nothing Slack-specific: probes stay off (a scan's default), so
        # the bot's --probe options are not passed.
        from ..scan import Scope, live
        from ..scan.outcome import assess

        context = None if request.context == IN_CLUSTER else request.context
        scope = Scope(all_namespaces=True) if request.all_namespaces else Scope(namespace=request.namespace)
        result = live(scope, context=context, kubeconfig=self.kubeconfig, timeout=self.request_timeout)
        return Outcome(None, None, assessment=assess(result))

    def summary(self, report: Report, evidence: Any) -> Any:
        from ..summary import deterministic, load_config, summarize

        try:
            return summarize(report, evidence, cfg=load_config())
        except SvcdoctorError as exc:
            out = deterministic(report)
            out.fallback = " ".join(str(exc).split())
            return out

    # --- what Slack is sent ----------------------------------------------------------------

    def message(self, request: Request | ScanRequest, outcome: Outcome,
                previous: list[str] | None = None) -> dict[str, Any]:
        """chat.postMessage / chat.update arguments: blocks and the notification text."""
        footer = f"context {request.context} · svcdoctor {__version__} · {outcome.seconds:.1f}s"
        if outcome.assessment is not None:
            r = outcome.assessment.result
            return scanreply.message(outcome.assessment, footer=f"{footer} · {r.requests} API requests · {r.source}")
        footer += f" · {outcome.report.source}" if outcome.report else ""
        if outcome.report is None:
            verb = "scan" if isinstance(request, ScanRequest) else "diagnose"
            # API errors can quote a URL or a header: masked like the recording.
            text = f"svcdoctor could not {verb} {request.target}: {mask_text(outcome.error)}"
            return {"text": text, "blocks": [blocks.section(":warning: " + blocks.escape(text)),
                                             blocks.context(blocks.escape(footer))]}
        ids = [f.id for f in outcome.report.findings]
        diff = blocks.diff_text(previous, ids) if previous is not None else ""
        return {"text": outcome.report.verdict,
                "blocks": blocks.report_blocks(outcome.report, footer=footer, diff=diff,
                                               button_value=blocks.button_value(request, ids),
                                               summarize_button=self.summaries and outcome.report.summary is None)}

    def attachment(self, request: Request | ScanRequest, outcome: Outcome, user: str) -> tuple[str, str, str] | None:
        """(file name, text, comment) to upload into the thread; None when nothing was found out."""
        if outcome.assessment is not None and isinstance(request, ScanRequest):
            scope, name = ("-A", "svcdoctor-scan-all-namespaces.json") if request.all_namespaces else \
                (f"-n {request.namespace}", f"svcdoctor-scan-{request.namespace}.json")
            return (name, scanreply.document(outcome.assessment),
                    f"Every Service and finding (JSON, {SCAN_SCHEMA}); compare a later scan with it: "
                    f"`svcdoctor scan {scope} --baseline {name}`")
        if outcome.report is not None and isinstance(request, Request):
            name, text = self.recording(request, outcome, user)
            return name, text, f"Replay offline: `svcdoctor diagnose --from {name}`"
        return None

    def log_fields(self, request: Request | ScanRequest, outcome: Outcome) -> dict[str, Any]:
        """The audit line's account of one request (who and where are added by the caller)."""
        fields: dict[str, Any] = {"target": request.target, "context": request.context,
                                  "outcome": outcome_word(outcome)}
        if isinstance(request, ScanRequest):
            a = outcome.assessment
            fields = {"command": "scan", **fields,
                      "counts": a.counts() if a else {},
                      "broken": [s.target for s in a.broken()[:scanreply.SHOWN]] if a else [],
                      "findings": sorted({f.id for s in a.services for f in s.findings}) if a else [],
                      "api_requests": a.result.requests if a else 0}
        else:
            fields["findings"] = [f.id for f in outcome.report.findings] if outcome.report else []
        return {**fields, "duration_ms": round(outcome.seconds * 1000)}

    def recording(self, request: Request, outcome: Outcome, user: str) -> tuple[str, str]:
        """(file name, text) of the recording to upload: replayable with --from."""
        doc = recording_document(outcome.evidence, source=outcome.evidence.source,
                                 description=f"svcdoctor in Slack: {request.target} (context {request.context}), "
                                             f"asked by {user}")
        return f"svcdoctor-{request.namespace}-{request.name}.yaml", dump(doc)

    def record(self, **fields: Any) -> None:
        self.audit({"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields})


def outcome_word(outcome: Outcome) -> str:
    if outcome.assessment is not None:
        return {0: "ok", 1: "warning", 2: "critical", 4: "incomplete", 130: "interrupted"}.get(
            outcome.assessment.exit_code(), "error")
    if outcome.report is None:
        return "timeout" if outcome.error.startswith("timed out") else \
            "busy" if outcome.error.startswith("busy") else "error"
    return {0: "ok", 1: "warning", 2: "critical"}[outcome.report.exit_code]


def refusal(exc: Exception) -> str:
    if isinstance(exc, Help):
        return USAGE
    if isinstance(exc, (UsageError, Denied)):
        return " ".join(str(exc).split())
    raise exc


def _log_line(fields: dict[str, Any]) -> None:
    print(json.dumps(fields, separators=(",", ":")), file=sys.stderr, flush=True)
