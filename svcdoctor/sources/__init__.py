"""Sources turn a place (a recording, kubectl output, a live cluster) into Evidence.

Every source answers the same question — "give me the evidence for Service NAME in
namespace NS" — so the rest of svcdoctor never knows where the objects came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable

from .. import kube, shapes
from ..errors import NotFoundError, SourceError
from ..evidence import Evidence, Gap
from ..kube import Obj
from ..similar import suggestion
from ..target import Target


def conform(objs: Iterable[Any], where: str,
            locate: Callable[[int], str] = lambda i: f"items[{i}]") -> list[Obj]:
    """The objects in the shapes checks rely on (svcdoctor.shapes), or a SourceError naming
    the first bad object and field: ``dump.yaml: items[12] Pod shop/web-1: spec.ports is
    a string (expected a list)``. Every source calls this before anything reads the objects."""
    out = []
    for i, obj in enumerate(objs):
        try:
            out.append(shapes.conform(obj))
        except shapes.ShapeError as exc:
            raise SourceError(f"{where}: {locate(i)}{_label(obj)}: {exc}") from None
    return out


def _label(obj: Any) -> str:
    """`` Pod shop/web-1`` when the object says so in strings, else nothing."""
    if not isinstance(obj, dict):
        return ""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    parts = [v for v in (meta.get("namespace"), meta.get("name")) if isinstance(v, str) and v]
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    return " " + " ".join(x for x in (kind, "/".join(parts)) if x) if (kind or parts) else ""


def resolve_target(items: list[Obj], name: str | None, namespace: str | None,
                   where: str, kind: str = "Service") -> Target:
    """Find the object to diagnose (a Service, or an Ingress or route) in ``items``; raise
    NotFoundError with close names otherwise. A URL target needs no object of its own.

    Without ``namespace``, a name that exists in exactly one namespace is taken from there
    (offline input often spans every namespace, ``kubectl get -A``)."""
    if kind == "URL":
        return Target("", name or "", "URL")
    objs = [o for o in items if o.get("kind") == kind]
    if name is None:
        raise NotFoundError(f"no {kind} named; use {'svc' if kind == 'Service' else kind.lower()}/NAME "
                            f"({where} holds {len(objs)} {kind}s)")
    if namespace is None:
        homes = sorted({kube.namespace(s) for s in objs if kube.name(s) == name})
        if len(homes) == 1:
            return Target(homes[0], name, kind)
        if len(homes) > 1:
            raise NotFoundError(f"{kind} {name!r} exists in namespaces {', '.join(homes)} "
                                f"in {where}; choose one with -n")
        namespace = "default"
    namespaces = {kube.namespace(o) for o in items if kube.namespace(o)}
    namespaces |= {kube.name(o) for o in items if o.get("kind") == "Namespace"}
    if namespace not in namespaces:
        raise NotFoundError(f"namespace {namespace!r} not found in {where}"
                            + suggestion(namespace, namespaces))
    here = [kube.name(s) for s in objs if kube.namespace(s) == namespace]
    if name not in here:
        hint = suggestion(name, here) or services_there(here, kind=kind)
        raise NotFoundError(f"{kind} {name!r} not found in namespace {namespace!r} "
                            f"in {where}{hint}")
    return Target(namespace, name, kind)


def services_there(names: list[str], shown: int = 10, kind: str = "Service") -> str:
    """``"; Services there: a, b (and 38 more)"`` when no name is close enough to suggest."""
    if not names:
        return ""
    more = f" (and {len(names) - shown} more)" if len(names) > shown else ""
    return f"; {kind}s there: {', '.join(sorted(names)[:shown])}{more}"


def build_evidence(items: list[Obj], target: Target, *, collected: set[str],
                   observed_at: datetime, source: str, gaps: list[Gap] | None = None,
                   probes: list[dict] | None = None) -> Evidence:
    return Evidence(target=target, items=items, collected=collected, observed_at=observed_at,
                    source=source, gaps=list(gaps or []), probes=list(probes or []))
