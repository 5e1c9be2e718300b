"""Masking before evidence leaves the machine (recordings, and later the LLM and Slack).

svcdoctor never reads Secrets, but credentials still leak into ordinary objects: env values,
annotations, event messages quoting a failing request. Masked values become ``<masked>``;
the shape of the object is kept so checks still run on a recording."""

from __future__ import annotations

import re
from typing import Any, Iterable

from .kube import Obj

MASK = "<masked>"
SENSITIVE_NAME = re.compile(r"pass(word|wd)?|secret|token|credential|api[-_]?key|private[-_]?key"
                            r"|auth|session|cookie|dsn|conn(ection)?[-_]?str", re.I)
# Things that are credentials whatever they are called.
TOKEN_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)"),  # PEM keys, certificates
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),   # JWT
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"(?i)\b(AKIA|ASIA)[A-Z0-9]{16}\b"),                               # AWS key id
    re.compile(r"(?i)\b(gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})\b"),
    re.compile(r"\b(sk-(proj-|ant-)?[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35})\b"),  # OpenAI, Anthropic, Google
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),                                        # user:pass@ in URLs
]
# name=value and name: value where the name says credential: the value goes, the name stays.
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b((?:[a-z0-9_.-]*?)(?:password|passwd|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key"
    r"|client[-_]?secret|credentials?))(\s*[:=]\s*)([\"']?)(?!<masked>)[^\s\"',;&}]{3,}\3")
# Annotations that copy whole objects (env values included) and add nothing to a diagnosis.
DROP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration"}


def mask_text(text: str, extra: Iterable[re.Pattern[str]] = ()) -> str:
    """``text`` with credentials masked; ``extra``: the operator's own patterns."""
    for pattern in TOKEN_PATTERNS:
        if pattern.pattern.startswith("://"):
            text = pattern.sub("://" + MASK + "@", text)
        else:
            text = pattern.sub(MASK, text)
    text = SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}{m.group(3)}", text)
    for pattern in extra:
        text = pattern.sub(MASK, text)
    return text


def redact_object(obj: Obj) -> Obj:
    """A masked deep copy of one API object."""
    out = _walk(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            kept = {k: (MASK if SENSITIVE_NAME.search(k) else mask_text(str(v)))
                    for k, v in ann.items() if k not in DROP_ANNOTATIONS}
            if kept:
                meta["annotations"] = kept
            else:
                del meta["annotations"]
    if out.get("kind") == "Event":
        for key in ("message", "note"):
            if isinstance(out.get(key), str):
                out[key] = mask_text(out[key])
    spec = out.get("spec")
    if out.get("kind") == "Node" and isinstance(spec, dict) and isinstance(spec.get("providerID"), str):
        spec["providerID"] = mask_accounts(spec["providerID"])   # GCP project, Azure subscription
    return out


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _walk(v) for k, v in value.items()}
        # env: [{name: DB_PASSWORD, value: ...}] — mask by the variable's name or its value.
        if "name" in out and "value" in out and isinstance(out.get("value"), str) and len(out) <= 3:
            if SENSITIVE_NAME.search(str(out["name"])):
                out["value"] = MASK
            else:
                out["value"] = mask_text(out["value"])
        return out
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


# Cloud account identifiers: the 12-digit AWS account in ARNs and owner fields, Azure
# subscription ids in resource paths, GCP project ids in resource URLs.
ACCOUNT_PATTERNS = [
    (re.compile(r"(arn:aws[\w-]*:[\w-]+:[\w-]*:)\d{12}(:)"), r"\1" + MASK + r"\2"),
    (re.compile(r"(?i)(/subscriptions/)[0-9a-f-]{36}"), r"\1" + MASK),
    (re.compile(r"(\bprojects/)[a-z][a-z0-9-]{4,28}[a-z0-9](/)"), r"\1" + MASK + r"\2"),
    (re.compile(r"^(gce://)[a-z][a-z0-9-]{4,28}[a-z0-9](/)"), r"\1" + MASK + r"\2"),     # a node's providerID
]


def mask_accounts(text: str) -> str:
    for pattern, repl in ACCOUNT_PATTERNS:
        text = pattern.sub(repl, text)
    return mask_text(text)


def redact_external(value: Any) -> Any:
    """State read from a cloud, for a recording: account identifiers and credentials masked."""
    if isinstance(value, dict):
        return {k: redact_external(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_external(v) for v in value]
    if isinstance(value, str):
        return mask_accounts(value)
    return value
