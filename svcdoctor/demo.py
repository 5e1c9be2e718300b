"""The recordings bundled inside the package: the demo and the embedded default."""

from __future__ import annotations

from importlib import resources
from typing import Any

from .sources.kubectl import yaml_documents

DEFAULT = "selector-typo"


def bundled() -> dict[str, Any]:
    """name → Traversable of every recording shipped in svcdoctor.recordings."""
    return {e.name[:-5]: e for e in resources.files("svcdoctor.recordings").iterdir()
            if e.name.endswith(".yaml")}


def describe(entry: Any) -> str:
    """The recording's one-line description: the metadata block is at the top, so only the
    text before ``items:`` is parsed (a crowded recording's objects take a while)."""
    head = entry.read_text(encoding="utf-8").split("\nitems:", 1)[0]
    doc = yaml_documents(head)[0]
    text = str((doc.get("metadata") or {}).get("description", "")).strip()
    return text.splitlines()[0] if text else ""
