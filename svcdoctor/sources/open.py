"""Pick the source for ``--from PATH``: a svcdoctor recording, or kubectl output."""

from __future__ import annotations

from pathlib import Path

from ..evidence import Evidence
from . import kubectl, recording


def evidence_from_path(path: str | Path, name: str | None, namespace: str | None) -> Evidence:
    p = Path(path)
    where = str(path)
    if p.is_file():
        docs = kubectl.load_documents(p)
        if len(docs) == 1 and recording.is_recording(docs[0]):
            return recording.evidence_from_recording(docs[0], where, name, namespace)
        items = [o for d in docs for o in kubectl.flatten(d, where)]
        return kubectl.evidence_from_items(items, name, namespace, where)
    return kubectl.evidence_from_items(kubectl.load_items(p), name, namespace, where)
