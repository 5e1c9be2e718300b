"""svcdoctor recordings: serialized Evidence for one Service, replayable offline.

Format (YAML; documented in docs/recordings.md)::

    apiVersion: svcdoctor/v1
    kind: Recording
    metadata:
      target: {namespace: shop, name: web}
      recordedAt: "2026-11-24T10:00:00Z"   # ages in the report are measured from here
      recordedAtGuess: "..."               # only when recordedAt was estimated (kubectl input)
      source: "kube-apiserver v1.36.3 (svcdoctor record)"
      description: "..."                   # optional, free text
      digest: "sha256:..."                 # of items; a truncated or edited file is refused
                                           # (hand-written recordings leave it out)
    collected: [Service, EndpointSlice, Pod, Event, Node]   # kinds the source listed
    gaps: [{what: ..., reason: ..., kind: ...}]           # reads that failed (403, ...)
    probes: []                                            # probe outcomes, replayed as is
    probeNote: ""                                         # why probes did not run, if so
    expect: {findings: [selector-matches-no-pods]}       # optional, for svcdoctor's tests
    items: [ ...raw API objects... ]
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .. import __version__, kube, shapes
from ..errors import SourceError, UsageError
from ..evidence import Evidence, Gap
from ..cloud import EXTERNAL_SHAPE
from ..probes import SHAPE as PROBE_SHAPE
from ..redact import redact_external, redact_object
from ..target import Target
from . import build_evidence, conform, resolve_target
from .kubectl import capture_time

API_VERSION = "svcdoctor/v1"
KIND = "Recording"


def is_recording(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == KIND and str(
        doc.get("apiVersion", "")).startswith("svcdoctor/")


# The recording's own fields (items are checked object by object, by kind).
SHAPE = {
    "apiVersion": shapes.STR, "kind": shapes.STR,
    "metadata": {"target": {"namespace": shapes.STR, "name": shapes.STR}, "recordedAt": shapes.TIME,
                 "recordedAtGuess": shapes.STR, "recordedBy": shapes.STR, "source": shapes.STR,
                 "description": shapes.STR, "digest": shapes.STR},
    "collected": [shapes.STR], "absent": [shapes.STR], "serviceNamespaces": [shapes.STR],
    "clients": [{"pod": shapes.STR, "namespace": shapes.STR, "cidr": shapes.STR}],
    "gaps": [{"what": shapes.STR, "reason": shapes.STR, "kind": shapes.STR}],
    "probes": [PROBE_SHAPE], "probeNote": shapes.STR,
    "external": EXTERNAL_SHAPE, "externalNote": shapes.STR,
    "expect": {"findings": [shapes.STR], "translation": shapes.STR},
    "items": [shapes.ANY],
}


def evidence_from_recording(doc: dict[str, Any], where: str, name: str | None = None,
                            namespace: str | None = None, observed_at: datetime | None = None,
                            kind: str = "Service") -> Evidence:
    """The recorded Service's evidence; with ``kind`` an Ingress, route kind or "URL", the
    same objects seen from that L7 object in front (``name``, ``namespace``)."""
    if doc.get("apiVersion") != API_VERSION:
        raise SourceError(f"{where}: recording version {doc.get('apiVersion')!r} is not supported "
                          f"(this svcdoctor {__version__} reads {API_VERSION})")
    raw_items = doc.get("items")
    try:
        doc = shapes.conform(doc, SHAPE)
    except shapes.ShapeError as exc:
        raise SourceError(f"{where}: corrupt recording: {exc}") from None
    meta = doc.get("metadata") or {}
    target = meta.get("target") or {}
    if not target.get("namespace") or not target.get("name") or "items" not in doc:
        raise SourceError(f"{where}: corrupt recording: metadata.target (namespace, name) and items "
                          "are required")
    for i, probe in enumerate(doc.get("probes") or []):
        if not {"kind", "purpose", "target"} <= set(probe):
            raise SourceError(f"{where}: corrupt recording: probes[{i}] needs kind, purpose and target")
    tgt = Target(target["namespace"], target["name"])
    want = meta.get("digest")
    if want is not None and want != digest(raw_items):
        raise SourceError(f"{where}: corrupt recording (its items do not match metadata.digest: "
                          "truncated or edited; delete the digest line to accept hand edits)")
    items = conform(doc["items"], where)
    if kind != "Service":
        resolve_target(items, tgt.name, tgt.namespace, where)  # the Service must be in it
        tgt = resolve_target(items, name, namespace, where, kind)
    elif name is not None and (name != tgt.name or (namespace or tgt.namespace) != tgt.namespace):
        raise UsageError(f"{where} is a recording of {tgt}, not "
                         f"{namespace or tgt.namespace}/{name}")
    else:
        resolve_target(items, tgt.name, tgt.namespace, where)  # the Service must be in it
    recorded = kube.parse_time(meta.get("recordedAt"))
    guess = meta.get("recordedAtGuess", "")
    if observed_at is not None:
        recorded, guess = observed_at, ""
    elif recorded is None:
        recorded, guess = capture_time(items)
        guess = f"estimated from the newest timestamp in the recording ({guess})"
    evidence = build_evidence(items, tgt, collected=set(doc.get("collected") or {i["kind"] for i in items}),
                              observed_at=recorded,
                              source=f"recording {where} — {meta.get('source', 'origin unknown')}",
                              gaps=[Gap(g.get("what", ""), g.get("reason", ""), g.get("kind", ""))
                                    for g in doc.get("gaps") or []],
                              probes=doc.get("probes") or [])
    evidence.probe_note = doc.get("probeNote", "")
    evidence.external = dict(doc.get("external") or {})
    evidence.external_note = doc.get("externalNote", "")
    evidence.absent = set(doc.get("absent") or [])
    if "serviceNamespaces" in doc:
        evidence.service_namespaces = set(doc.get("serviceNamespaces") or [])
    evidence.clients = [c for c in doc.get("clients") or [] if c]
    evidence.observed_at_guess = guess
    return evidence


def recording_document(evidence: Evidence, *, source: str, description: str = "",
                       expect: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "target": {"namespace": evidence.target.namespace, "name": evidence.target.name},
        "recordedAt": evidence.observed_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recordedBy": f"svcdoctor {__version__}",
        "source": source,
    }
    if evidence.observed_at_guess:  # recorded from kubectl output: the time is an estimate
        meta["recordedAtGuess"] = evidence.observed_at_guess
    if description:
        meta["description"] = description
    doc: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "metadata": meta,
                           "collected": sorted(evidence.collected), "absent": sorted(evidence.absent),
                           "gaps": [g.to_dict() for g in evidence.gaps],
                           "probes": evidence.probes, "probeNote": evidence.probe_note}
    if evidence.service_namespaces is not None:
        doc["serviceNamespaces"] = sorted(evidence.service_namespaces)
    if evidence.clients:
        doc["clients"] = evidence.clients
    if evidence.external:
        doc["external"] = redact_external(evidence.external)
    if evidence.external_note:
        doc["externalNote"] = evidence.external_note
    if expect:
        doc["expect"] = expect
    doc["items"] = [redact_object(o) for o in evidence.items if _relevant(o, evidence)]
    meta["digest"] = digest(doc["items"])
    return doc


def _relevant(obj: dict[str, Any], evidence: Evidence) -> bool:
    """Events about other objects of a busy namespace add nothing to this Service's story."""
    if obj.get("kind") != "Event":
        return True
    inv = kube.event_involved(obj)
    if inv.get("kind") in ("Node", "Namespace", "Ingress", "Gateway") or str(inv.get("kind", "")).endswith("Route"):
        return True
    if inv.get("kind") == "Service":
        return inv.get("name") == evidence.target.name
    pods = {kube.name(p) for p in evidence.selected_pods + evidence.other_namespace_pods}
    return inv.get("kind") != "Pod" or inv.get("name") in pods


def digest(items: Any) -> str:
    try:
        canonical = json.dumps(items, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):  # keys of mixed types, nesting: not ours
        return "sha256:unreadable"
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def write_atomic(path: Path, text: str, force: bool = False) -> None:
    """Write via a temp file in the same directory and rename: never half a file."""
    check_writable(path, force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary file; mkstemp's 0600 would surprise
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: Path, force: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work is done: an existing
    file (without force), a folder, a missing or read-only parent folder (never created:
    a typo in it should not leave a new folder behind)."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; name the recording file to write")
    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path}: the directory {parent} is not writable")


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
