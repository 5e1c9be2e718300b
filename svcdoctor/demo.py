"""The recordings bundled inside the package: the demo and the embedded default."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

DEFAULT = "selector-typo"


def bundled() -> dict[str, Any]:
    """name → Traversable of every recording shipped in svcdoctor.recordings."""
    return {e.name[:-5]: e for e in resources.files("svcdoctor.recordings").iterdir()
            if e.name.endswith(".yaml")}


def describe(entry: Any) -> str:
    doc = yaml.safe_load(entry.read_text(encoding="utf-8"))
    return str((doc.get("metadata") or {}).get("description", "")).strip().splitlines()[0]
