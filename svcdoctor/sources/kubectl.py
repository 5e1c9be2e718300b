"""Offline input: what kubectl prints.

Accepted: ``kubectl get … -o yaml`` / ``-o json`` (a List, a typed list such as PodList,
single objects, or multi-document YAML) and ``kubectl cluster-info dump`` output, either
``--output-directory`` folders or the single concatenated stream it prints by default.

A kind counts as collected when the input holds at least one object of it: an input with
no Pods at all almost certainly never listed them, so pod checks report could-not-verify
instead of "no pods". Probes are never run for offline input.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import yaml

from .. import kube
from ..errors import SourceError
from ..evidence import Evidence, Gap
from ..kube import Obj
from . import build_evidence, resolve_target

MAX_FILE_BYTES = 512 * 1024 * 1024


def load_documents(path: Path) -> list[Any]:
    """Parse one file into its top-level documents (JSON, JSON stream or YAML)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not a text file (kubectl -o yaml or -o json expected)") from exc
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return list(_json_stream(text, path))
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SourceError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def _json_stream(text: str, path: Path) -> Iterator[Any]:
    # cluster-info dump prints JSON documents back to back, with container logs between.
    decoder = json.JSONDecoder()
    pos, found = 0, 0
    while pos < len(text):
        start = min((i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0), default=-1)
        if start < 0:
            break
        if found == 0 and text[pos:start].strip():
            raise SourceError(f"{path}: not valid JSON")
        try:
            doc, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            if found == 0:
                raise SourceError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from exc
            pos = text.find("\n", start) + 1 or len(text)  # a log line that starts with '{'
            continue
        found += 1
        yield doc
        pos = end


def flatten(doc: Any, where: str) -> Iterator[Obj]:
    """Objects from a document: Lists and typed lists are opened; their items get the
    kind the list implies when kubectl left it out (raw API lists do)."""
    if isinstance(doc, list):
        for d in doc:
            yield from flatten(d, where)
        return
    if not isinstance(doc, dict):
        raise SourceError(f"{where}: expected Kubernetes objects, found {type(doc).__name__}")
    kind = doc.get("kind", "")
    if "items" in doc and (kind == "List" or kind.endswith("List") or not kind):
        item_kind = kind[:-4] if kind.endswith("List") and kind != "List" else ""
        for item in doc.get("items") or []:
            if isinstance(item, dict) and item_kind and not item.get("kind"):
                item = {"kind": item_kind, "apiVersion": doc.get("apiVersion", "v1"), **item}
            yield from flatten(item, where)
        return
    if not kind or not isinstance(doc.get("metadata"), dict):
        raise SourceError(f"{where}: an entry has no kind/metadata; is this kubectl output?")
    yield doc


def load_items(path: Path) -> list[Obj]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
        if not files:
            raise SourceError(f"{path}: no .json or .yaml files (expected kubectl cluster-info dump "
                              "--output-directory)")
    elif path.exists():
        files = [path]
    else:
        raise SourceError(f"{path}: no such file or directory")
    items: list[Obj] = []
    for f in files:
        for doc in load_documents(f):
            items.extend(flatten(doc, str(f)))
    return items


def newest_timestamp(items: list[Obj]) -> datetime:
    """The capture time, approximated by the newest timestamp in the input."""
    best: datetime | None = None
    for o in items:
        stamps = [kube.parse_time(kube.meta(o).get("creationTimestamp"))]
        if o.get("kind") == "Event":
            stamps.append(kube.event_last_seen(o))
        for c in (o.get("status") or {}).get("conditions") or []:
            stamps.append(kube.parse_time(c.get("lastTransitionTime")))
        for s in stamps:
            if s is not None and (best is None or s > best):
                best = s
    return best or datetime.now(timezone.utc)


def evidence_from_items(items: list[Obj], name: str | None, namespace: str | None, where: str,
                        gaps: list[Gap] | None = None) -> Evidence:
    target = resolve_target(items, name, namespace, where)
    evidence = build_evidence(items, target, collected={o["kind"] for o in items},
                              observed_at=newest_timestamp(items), source=where, gaps=gaps)
    evidence.probe_note = "offline input: kubectl output holds no network view, so nothing was probed"
    return evidence
