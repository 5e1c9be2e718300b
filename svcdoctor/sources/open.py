"""Pick the source for ``--from PATH``: a svcdoctor recording, or kubectl output."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..evidence import Evidence
from . import kubectl, recording


def evidence_from_path(path: str | Path, name: str | None, namespace: str | None,
                       observed_at: datetime | None = None, kind: str = "Service") -> Evidence:
    """``observed_at``: when the input was captured, if the user knows (``--observed-at``);
    ``kind``: what ``name`` is (a Service, an Ingress or route kind, or "URL")."""
    p = Path(path)
    where = str(path)
    if p.is_file():
        docs = kubectl.load_documents(p)
        if len(docs) == 1 and recording.is_recording(docs[0]):
            return recording.evidence_from_recording(docs[0], where, name, namespace, observed_at, kind)
        many = len(docs) > 1
        items = [o for n, d in enumerate(docs)
                 for o in kubectl.flatten(d, where, f"document {n + 1}" if many else "")]
        return kubectl.evidence_from_items(items, name, namespace, where, observed_at=observed_at,
                                           kind=kind)
    return kubectl.evidence_from_items(kubectl.load_items(p), name, namespace, where,
                                       observed_at=observed_at, kind=kind)
