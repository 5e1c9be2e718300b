"""Sources turn a place (a recording, kubectl output, a live cluster) into Evidence.

Every source answers the same question — "give me the evidence for Service NAME in
namespace NS" — so the rest of svcdoctor never knows where the objects came from.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Iterable

from .. import kube
from ..errors import NotFoundError
from ..evidence import Evidence, Gap
from ..kube import Obj
from ..target import Target


def close(word: str, choices: Iterable[str]) -> str:
    """', did you mean 'x'?' or '' — for not-found messages."""
    matches = difflib.get_close_matches(word, sorted(set(choices)), n=3, cutoff=0.6)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"


def resolve_target(items: list[Obj], name: str | None, namespace: str | None,
                   where: str) -> Target:
    """Find the Service in ``items``; raise NotFoundError with close names otherwise.

    Without ``namespace``, a Service name that exists in exactly one namespace is taken
    from there (offline input often spans every namespace, ``kubectl get -A``)."""
    services = [o for o in items if o.get("kind") == "Service"]
    if name is None:
        raise NotFoundError(f"no Service named; use svc/NAME ({where} holds "
                            f"{len(services)} Services)")
    if namespace is None:
        homes = sorted({kube.namespace(s) for s in services if kube.name(s) == name})
        if len(homes) == 1:
            return Target(homes[0], name)
        if len(homes) > 1:
            raise NotFoundError(f"Service {name!r} exists in namespaces {', '.join(homes)} "
                                f"in {where}; choose one with -n")
        namespace = "default"
    namespaces = {kube.namespace(o) for o in items if kube.namespace(o)}
    namespaces |= {kube.name(o) for o in items if o.get("kind") == "Namespace"}
    if namespace not in namespaces:
        raise NotFoundError(f"namespace {namespace!r} not found in {where}"
                            + close(namespace, namespaces))
    here = [kube.name(s) for s in services if kube.namespace(s) == namespace]
    if name not in here:
        hint = close(name, here)
        if not hint and here:
            hint = f"; Services there: {', '.join(sorted(here)[:10])}"
        raise NotFoundError(f"Service {name!r} not found in namespace {namespace!r} "
                            f"in {where}{hint}")
    return Target(namespace, name)


def build_evidence(items: list[Obj], target: Target, *, collected: set[str],
                   observed_at: datetime, source: str, gaps: list[Gap] | None = None,
                   probes: list[dict] | None = None) -> Evidence:
    return Evidence(target=target, items=items, collected=collected, observed_at=observed_at,
                    source=source, gaps=list(gaps or []), probes=list(probes or []))
