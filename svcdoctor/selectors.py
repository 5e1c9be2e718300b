"""Label and field selectors as kubectl and the API server write them (``-l``,
``?labelSelector=``, ``?fieldSelector=``), turned into tests over objects.

A scan reads each kind once and answers a diagnosis' filtered reads from that list, so
the filter must mean exactly what the API server would have done with the query.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from . import kube
from .errors import UsageError
from .kube import Obj

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_SET = re.compile(r"^(!?)\s*([^\s!=]+)\s+(in|notin)\s*\((.*)\)$")
_EQ = re.compile(r"^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$")


def _split(text: str) -> list[str]:
    """Requirements are comma-separated, but ``in (a,b)`` holds commas of its own."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def parse_labels(text: str) -> dict[str, Any]:
    """A label selector string as a metav1.LabelSelector (matchLabels, matchExpressions);
    raises UsageError naming the requirement it cannot read."""
    match: dict[str, str] = {}
    exprs: list[dict[str, Any]] = []
    for req in _split(text.strip()) if text.strip() else []:
        if not req:
            raise UsageError(f"label selector {text!r}: an empty requirement (two commas?)")
        if m := _SET.match(req):
            neg, key, op, values = m.groups()
            if neg:
                raise UsageError(f"label selector {text!r}: {req!r} is not valid (write `key notin (...)`)")
            vals = [v.strip() for v in values.split(",")]
            _check(text, key, vals)
            exprs.append({"key": key, "operator": "In" if op == "in" else "NotIn", "values": vals})
        elif m := _EQ.match(req):
            key, op, value = m.groups()
            _check(text, key, [value])
            if op == "!=":
                exprs.append({"key": key, "operator": "NotIn", "values": [value]})
            elif match.get(key, value) != value:  # a=1,a=2 selects nothing, as the server says
                exprs.append({"key": key, "operator": "In", "values": []})
            else:
                match[key] = value
        elif req.startswith("!"):
            _check(text, req[1:].strip(), [])
            exprs.append({"key": req[1:].strip(), "operator": "DoesNotExist"})
        else:
            _check(text, req, [])
            exprs.append({"key": req, "operator": "Exists"})
    return {"matchLabels": match, "matchExpressions": exprs}


def _check(text: str, key: str, values: list[str]) -> None:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise UsageError(f"label selector {text!r}: {key!r} is not a label key")
    for v in values:
        if not _VALUE.match(v) or len(v) > 63:
            raise UsageError(f"label selector {text!r}: {v!r} is not a label value")


def label_test(text: str) -> Callable[[Obj], bool]:
    selector = parse_labels(text)
    return lambda obj: kube.label_selector_matches(selector, kube.labels(obj))


def field_test(text: str) -> Callable[[Obj], bool]:
    """``metadata.name=web,involvedObject.kind!=Pod``: the equality forms the API serves."""
    tests: list[tuple[list[str], bool, str]] = []
    for req in _split(text.strip()) if text.strip() else []:
        m = _EQ.match(req)
        if not m:
            raise UsageError(f"field selector {text!r}: {req!r} is not field=value")
        path, op, value = m.groups()
        tests.append((path.split("."), op != "!=", value))

    def test(obj: Obj) -> bool:
        for path, equal, value in tests:
            node: Any = obj
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if ((node if node is not None else "") == value) != equal:
                return False
        return True
    return test
