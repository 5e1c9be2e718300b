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
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import yaml

from .. import kube, shapes
from ..errors import SourceError
from ..evidence import Evidence, Gap
from ..kube import Obj
from ..target import Target
from . import build_evidence, conform, resolve_target

MAX_FILE_BYTES = 512 * 1024 * 1024


class NoAliasLoader(yaml.SafeLoader):
    """YAML as kubectl writes it: no aliases. ``*name`` would let a few lines of hostile
    input expand into billions of nodes once anything walks the objects."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not accepted",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


# Where an alias could start: "*" after a space, a flow indicator or a line start. Only
# plain text can hold a false match ("a *b"), which just takes the slower, exact loader.
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[{,])\*[^\s\]},]", re.MULTILINE)
_FAST = getattr(yaml, "CSafeLoader", None)


def yaml_documents(text: str) -> list[Any]:
    """YAML documents without aliases (raises yaml.YAMLError on one), with libyaml's speed
    when the text cannot hold an alias."""
    loader = _FAST if _FAST is not None and not _MAYBE_ALIAS.search(text) else NoAliasLoader
    return list(yaml.load_all(text, Loader=loader))


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
    try:
        if text.lstrip().startswith(("{", "[")):
            return list(_json_stream(text, path))
        return [d for d in yaml_documents(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise SourceError(f"{path}: not valid YAML{where}: {problem}") from exc
    except RecursionError:
        raise SourceError(f"{path}: nested too deeply to be Kubernetes objects") from None


_OPENING = re.compile(r"[\[{]")


def _json_stream(text: str, path: Path) -> Iterator[Any]:
    # cluster-info dump prints JSON documents back to back, with container logs between.
    decoder = json.JSONDecoder()
    pos, found = 0, 0
    while pos < len(text):
        m = _OPENING.search(text, pos)  # one scan, however many log lines hold no bracket
        if m is None:
            break
        start = m.start()
        if found == 0 and text[pos:start].strip():
            raise SourceError(f"{path}: not valid JSON")
        try:
            doc, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            if found == 0:
                raise SourceError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from exc
            pos = text.find("\n", start) + 1 or len(text)  # a log line that starts with '{'
            continue
        pos = end
        if found and not (isinstance(doc, dict) and "kind" in doc):
            continue  # a structured log line between the lists ({"level": "info", ...})
        found += 1
        yield doc


def flatten(doc: Any, where: str, at: str = "") -> Iterator[Obj]:
    """Objects from a document, each in the shape checks rely on (svcdoctor.shapes): Lists
    and typed lists are opened; their items get the kind the list implies when kubectl left
    it out (raw API lists do). ``at`` locates the document in ``where`` for error messages."""
    if isinstance(doc, list):
        for i, d in enumerate(doc):
            yield from flatten(d, where, f"{at}[{i}]")
        return
    if not isinstance(doc, dict):
        raise SourceError(f"{where}: {at + ': ' if at else ''}expected Kubernetes objects, "
                          f"found {shapes.describe(doc)}")
    kind = doc.get("kind", "")
    if not isinstance(kind, str):
        raise SourceError(f"{where}: {at + ' ' if at else ''}kind is {shapes.describe(kind)}")
    if "items" in doc and (kind == "List" or kind.endswith("List") or not kind):
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise SourceError(f"{where}: {at + '.' if at else ''}items is {shapes.describe(items)} "
                              "(expected a list)")
        item_kind = kind[:-4] if kind.endswith("List") and kind != "List" else ""
        for i, item in enumerate(items):
            if isinstance(item, dict) and item_kind and not item.get("kind"):
                item = {"kind": item_kind, "apiVersion": doc.get("apiVersion", "v1"), **item}
            yield from flatten(item, where, f"{at + '.' if at else ''}items[{i}]")
        return
    if not kind or not isinstance(doc.get("metadata"), dict):
        raise SourceError(f"{where}: {at + ' ' if at else ''}has no kind/metadata; is this kubectl output?")
    yield conform([doc], where, lambda _: at)[0]


def load_items(path: Path) -> list[Obj]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".yaml", ".yml") and p.is_file())
        if not files:
            raise SourceError(f"{path}: no .json or .yaml files (expected kubectl cluster-info dump "
                              "--output-directory)")
    elif path.exists():
        files = [path]
    else:
        raise SourceError(f"{path}: no such file or directory")
    items: list[Obj] = []
    for f in files:
        docs = load_documents(f)
        many = len(docs) > 1
        items += [o for n, d in enumerate(docs) for o in flatten(d, str(f), f"document {n + 1}" if many else "")]
    return items


# Where real kubectl output carries time: besides creation, managed-field updates, condition
# transitions and node heartbeats (every few minutes on every node), container starts and
# ends, events, taints, and the EndpointSlice controller's trigger time. "*" walks a list.
_TIMES = [p.split(" ") for p in (
    "metadata creationTimestamp", "metadata managedFields * time",
    "status conditions * lastTransitionTime", "status conditions * lastHeartbeatTime",
    "status conditions * lastProbeTime", "status conditions * lastUpdateTime",
    "status startTime", "status containerStatuses * state running startedAt",
    "status containerStatuses * state terminated finishedAt",
    "status containerStatuses * lastState terminated finishedAt",
    "status initContainerStatuses * state terminated finishedAt",
    "spec taints * timeAdded", "firstTimestamp", "lastTimestamp", "eventTime",
    "series lastObservedTime", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
    "metadata annotations endpoints.kubernetes.io/last-change-trigger-time")]


def capture_time(items: list[Obj]) -> tuple[datetime, str]:
    """When the input was captured, as well as it can be told: kubectl output carries no
    capture time, so the newest timestamp anywhere in it (a lower bound: the capture came
    after everything it shows). Returns the time and which field it came from."""
    best, basis = None, ""
    for o in items:
        for path in _TIMES:
            for value in _values(o, path):
                when = kube.parse_time(value) if isinstance(value, str) else None
                if when is not None and (best is None or when > best):
                    best, basis = when, f"{kube.ref(o)} {'.'.join(k for k in path if k != '*')}"
        deleted = kube.parse_time(kube.meta(o).get("deletionTimestamp"))
        if deleted is not None:  # set to the deletion request + the grace period
            grace = min(max(kube.meta(o).get("deletionGracePeriodSeconds") or 0, 0), 10**8)
            asked = deleted - timedelta(seconds=grace)
            if best is None or asked > best:
                best, basis = asked, f"{kube.ref(o)} deletion request"
    if best is None:
        return datetime.now(timezone.utc), "no timestamp in the input: now"
    return best, basis


def _values(node: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield node
    elif path[0] == "*":
        for v in node if isinstance(node, list) else []:
            yield from _values(v, path[1:])
    elif isinstance(node, dict):
        yield from _values(node.get(path[0]), path[1:])


def evidence_from_items(items: list[Obj], name: str | None, namespace: str | None, where: str,
                        gaps: list[Gap] | None = None, observed_at: datetime | None = None,
                        kind: str = "Service") -> Evidence:
    """Evidence from objects already through :func:`flatten`. Without ``observed_at`` (the
    user's ``--observed-at``) the capture time is estimated, and the report says from what."""
    target = resolve_target(items, name, namespace, where, kind)
    return offline_evidence(items, where, observed_at, gaps).retarget(target)


def offline_evidence(items: list[Obj], where: str, observed_at: datetime | None = None,
                     gaps: list[Gap] | None = None) -> Evidence:
    """The input's evidence before a target is chosen (``retarget`` chooses one): a scan
    estimates the capture time and indexes the objects once for all its Services."""
    if observed_at is None:
        observed_at, basis = capture_time(items)
        guess = f"estimated from the newest timestamp in the input ({basis})"
        source = f"{where} (captured at {_stamp(observed_at)} or later, {guess}; --observed-at sets it)"
    else:
        guess, source = "", f"{where} (captured at {_stamp(observed_at)})"
    evidence = build_evidence(items, Target("", ""), collected={o["kind"] for o in items},
                              observed_at=observed_at, source=source, gaps=gaps)
    evidence.observed_at_guess = guess
    evidence.probe_note = "offline input: kubectl output holds no network view, so nothing was probed"
    return evidence


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
