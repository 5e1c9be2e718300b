"""Answers kept on disk: the same question to the same model is asked once.

Key: sha256 of model + base URL + the exact request (after masking and anonymisation),
so a change of model, server, report or wording asks again. Stored under
``$XDG_CACHE_HOME/svcdoctor/llm/`` (default ``~/.cache/svcdoctor/llm/``); ``--no-cache``
neither reads nor writes it. A corrupt entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "svcdoctor" / "llm"


def key(model: str, base_url: str, request: Any) -> str:
    canonical = json.dumps([model, base_url, request], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def get(where: Path, k: str) -> dict[str, Any] | None:
    try:
        entry = json.loads((where / f"{k}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("text"), str) else None


def put(where: Path, k: str, entry: dict[str, Any]) -> None:
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=f".{k}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh)
        os.replace(tmp, where / f"{k}.json")
    except OSError:
        pass  # a cache that cannot be written costs a request next time, nothing more
