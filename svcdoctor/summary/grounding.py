"""Check the model's answer in code, whatever the server claimed about the schema.

Local servers often accept a JSON schema and ignore it, and prompt wording alone does not
keep a model grounded. So every answer must: parse as one JSON object (a ```json fence or
prose around it is tolerated), have the schema's fields and types, name only finding IDs
that are in the report, put the report's root cause first, and propose only commands that
are in the findings' fix steps, or read-only kubectl commands marked as the model's own.
Anything else is rejected with the reason, and the deterministic summary is shown instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .prompt import normalize

# A command of the model's own may only read.
READ_ONLY = re.compile(r"^kubectl(\s+-[-\w]+(=\S+|\s+\S+)?)*\s+(get|describe|logs|top|explain|events"
                       r"|api-resources|version|cluster-info|auth\s+can-i)\b")
MUTATING = re.compile(r"\b(delete|apply|edit|patch|scale|replace|create|label|annotate|rollout|drain|cordon"
                      r"|uncordon|taint|exec|cp|run|expose|set|proxy|port-forward)\b")
SHELL = re.compile(r"[;&|`$<>]")
MAX_SUMMARY = 1500


class Ungrounded(ValueError):
    """``str(err)`` says why the answer was not used."""


@dataclass
class Step:
    finding: str
    action: str
    command: str | None
    source: str      # "playbook" | "model"

    def to_dict(self) -> dict[str, Any]:
        return {"finding": self.finding, "action": self.action, "command": self.command, "source": self.source}


def parse(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (fences and prose around it are tolerated)."""
    start = text.find("{")
    while start >= 0:
        try:
            obj, _ = json.JSONDecoder().raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    raise Ungrounded("the answer holds no JSON object")


def check(answer: dict[str, Any], finding_ids: list[str], commands: dict[str, set[str]]) -> tuple[str, list[Step]]:
    """The summary and plan, or Ungrounded naming the first rule the answer breaks.
    ``commands``: finding ID → its fix commands (normalised), after anonymisation is undone."""
    summary, root, plan = answer.get("summary"), answer.get("root_cause"), answer.get("plan")
    if not isinstance(summary, str) or not summary.strip():
        raise Ungrounded("the answer has no summary text")
    if len(summary) > MAX_SUMMARY:
        raise Ungrounded(f"the summary is longer than {MAX_SUMMARY} characters")
    if not isinstance(plan, list) or not plan:
        raise Ungrounded("the answer has no plan")
    if root != finding_ids[0]:
        raise Ungrounded(f"the answer's root cause is {root!r}, not the report's {finding_ids[0]!r}")
    steps = [_step(raw, i, finding_ids, commands) for i, raw in enumerate(plan)]
    if steps[0].finding != finding_ids[0]:
        raise Ungrounded(f"the plan starts with {steps[0].finding!r}, not the root cause {finding_ids[0]!r}")
    return summary.strip(), steps


def _step(raw: Any, i: int, finding_ids: list[str], commands: dict[str, set[str]]) -> Step:
    if not isinstance(raw, dict):
        raise Ungrounded(f"plan step {i + 1} is not an object")
    finding, action, command, source = (raw.get(k) for k in ("finding", "action", "command", "source"))
    if finding not in finding_ids:
        raise Ungrounded(f"plan step {i + 1} names {finding!r}, which is not a finding of this report")
    if not isinstance(action, str) or not action.strip():
        raise Ungrounded(f"plan step {i + 1} has no action text")
    if command in (None, ""):
        return Step(finding, action.strip(), None, source if source in ("playbook", "model") else "model")
    if not isinstance(command, str):
        raise Ungrounded(f"plan step {i + 1}'s command is not text")
    cmd = normalize(command)
    if source == "playbook":
        if not any(cmd in cmds for cmds in commands.values()):
            raise Ungrounded(f"plan step {i + 1} gives a command that is in no fix step of the report: {cmd[:80]}")
    elif source == "model":
        if not READ_ONLY.match(cmd) or MUTATING.search(cmd.split(" ", 2)[-1]) or SHELL.search(cmd):
            raise Ungrounded(f"plan step {i + 1} proposes a command of its own that is not a read-only kubectl "
                             f"command: {cmd[:80]}")
    else:
        raise Ungrounded(f"plan step {i + 1} does not say where its command comes from")
    return Step(finding, action.strip(), cmd, source)
