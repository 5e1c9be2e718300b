"""The optional LLM summary: the report in the reader's terms, and a plan tying the
findings together. The deterministic report stays the product; the summary never changes
it or the exit code, and any failure (no extra installed, timeout, 401, 429, 5xx, an answer
that is malformed or ungrounded) falls back to the deterministic summary with one line
saying why.

    report → masked (always) → anonymised (--anonymize) → prompt → cache | one request
           → answer parsed and checked (grounding.py) → names restored → Summary

Modules: config (environment and config file), privacy (masking, anonymisation), prompt
(the request), client (the openai call, the only one talking to a server), grounding (the
answer's checks), cache (answers on disk).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..evidence import Evidence
from ..report import Report
from . import cache, client, grounding, prompt
from .config import LLMConfig
from .config import load as load_config
from .privacy import Anonymizer, mask

__all__ = ["Options", "Summary", "summarize", "deterministic", "load_config"]


@dataclass
class Options:
    anonymize: bool = False
    use_cache: bool = True
    show_prompt: bool = False   # build the request, send nothing (Summary.request holds it)


@dataclass
class Summary:
    text: str
    plan: list[grounding.Step] = field(default_factory=list)
    model: str = ""
    grounded: bool = False          # the model's answer, checked; False = the deterministic one
    fallback: str = ""              # why the model's answer is not shown, if it is not
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    requests: int = 0
    mode: str = ""                  # json_schema | json_object | prompt
    request: dict[str, Any] | None = None   # --show-prompt: the exact request, not sent

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "plan": [s.to_dict() for s in self.plan], "model": self.model,
                "grounded": self.grounded, "fallback": self.fallback or None, "cached": self.cached,
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens,
                           "total": self.prompt_tokens + self.completion_tokens},
                "cost": self.cost, "requests": self.requests, "mode": self.mode or None}


def deterministic(report: Report) -> Summary:
    """What svcdoctor says without a model: the verdict, and each root cause's first fix."""
    plan = []
    for f in report.findings:
        if f.caused_by:
            continue  # consequences follow their root cause's fix
        first = f.fix[0] if f.fix else None
        plan.append(grounding.Step(f.id, first.text if first else f.title,
                                   (first.command or None) if first else None, "playbook"))
    return Summary(report.verdict, plan)


def summarize(report: Report, evidence: Evidence, options: Options | None = None,
              cfg: LLMConfig | None = None) -> Summary:
    """The summary of ``report``; never raises for anything the server or model does."""
    options = options or Options()
    cfg = cfg or load_config()
    if not report.findings:
        return _fallback(report, cfg, "nothing to summarise: the report has no finding")
    anon = Anonymizer(evidence) if options.anonymize else None
    data = mask(prompt.report_data(report), cfg.redact)
    if anon is not None:
        data = anon.hide(data)
    ids = [f.id for f in report.findings]
    schema = prompt.schema(list(dict.fromkeys(ids)))
    messages = prompt.messages(data, schema)
    request = client.request_body(cfg, messages, schema, client.MODES[0])
    if options.show_prompt:
        shown = _fallback(report, cfg, "--show-prompt: the request was printed, not sent")
        shown.request = {"base_url": cfg.base_url or "https://api.openai.com/v1", **request,
                         "anonymized": anon.placeholders if anon else {}}
        return shown
    key = cache.key(cfg.model, cfg.base_url, request)
    hit = cache.get(cache.folder(), key) if options.use_cache else None
    if hit is not None:
        completion = client.Completion(hit["text"], hit.get("mode", ""), int(hit.get("prompt_tokens", 0)),
                                       int(hit.get("completion_tokens", 0)), requests=0)
    else:
        try:
            completion = client.complete(cfg, messages, schema, cache.folder() / "modes.json")
        except client.Unavailable as exc:
            return _fallback(report, cfg, str(exc))
    summary = _checked(report, completion, anon)
    summary.model, summary.cached, summary.mode = cfg.model, hit is not None, completion.mode
    summary.prompt_tokens, summary.completion_tokens = completion.prompt_tokens, completion.completion_tokens
    summary.requests = completion.requests
    summary.cost = cfg.cost(completion.prompt_tokens, completion.completion_tokens)
    if hit is None and options.use_cache and summary.grounded:
        cache.put(cache.folder(), key, {"text": completion.text, "mode": completion.mode,
                                        "prompt_tokens": completion.prompt_tokens,
                                        "completion_tokens": completion.completion_tokens})
    return summary


def _checked(report: Report, completion: client.Completion, anon: Anonymizer | None) -> Summary:
    text = anon.restore(completion.text) if anon else completion.text
    try:
        answer = grounding.parse(text)
        summary_text, steps = grounding.check(answer, [f.id for f in report.findings],
                                              prompt.fix_commands(report))
    except grounding.Ungrounded as exc:
        fallback = deterministic(report)
        fallback.fallback = f"the model's answer was not used: {exc}"
        return fallback
    return Summary(summary_text, steps, grounded=True)


def _fallback(report: Report, cfg: LLMConfig, why: str) -> Summary:
    out = deterministic(report)
    out.fallback, out.model = why, cfg.model
    return out


def show(summary: Summary) -> str:
    """--show-prompt's output: the request exactly as it would be sent."""
    return json.dumps(summary.request, indent=2, ensure_ascii=False)
