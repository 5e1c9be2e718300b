"""Read the kubeconfig files before the client does, so a wrong file is one clear line.

The official client turns a file that is not a kubeconfig into errors such as ``'str' object
does not support item assignment``. Here each file (``--kubeconfig``, or every path of
``KUBECONFIG``, or ``~/.kube/config``) is parsed and checked against the shape the client
reads; a missing ``--context`` gets the closest names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .. import shapes
from ..errors import ClusterError, UsageError
from ..similar import suggestion
from .kubectl import NoAliasLoader

MAX_BYTES = 16 * 1024 * 1024
_NAMED = {"name": shapes.STR}
SHAPE = {
    "apiVersion": shapes.STR, "kind": shapes.STR, "current-context": shapes.STR,
    "clusters": [{**_NAMED, "cluster": {
        "server": shapes.STR, "certificate-authority": shapes.STR,
        "certificate-authority-data": shapes.STR, "insecure-skip-tls-verify": shapes.BOOL,
        "tls-server-name": shapes.STR, "proxy-url": shapes.STR}}],
    "users": [{**_NAMED, "user": {
        "token": shapes.STR, "tokenFile": shapes.STR, "username": shapes.STR,
        "password": shapes.STR, "client-certificate": shapes.STR,
        "client-certificate-data": shapes.STR, "client-key": shapes.STR,
        "client-key-data": shapes.STR,
        "exec": {"command": shapes.STR, "args": [shapes.STR], "apiVersion": shapes.STR,
                 "env": [{"name": shapes.STR, "value": shapes.STR}]},
        "auth-provider": {"name": shapes.STR, "config": shapes.STRMAP}}}],
    "contexts": [{**_NAMED, "context": {"cluster": shapes.STR, "user": shapes.STR,
                                        "namespace": shapes.STR}}],
}


def files(kubeconfig: str | None) -> list[Path]:
    """The files the client will read, in its order."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in paths] or [Path.home() / ".kube" / "config"]


def check(kubeconfig: str | None, context: str | None) -> None:
    """Raise one clear line if a kubeconfig file is unreadable or not a kubeconfig, or if
    ``context`` is in none of them."""
    contexts: list[str] = []
    for path in files(kubeconfig):
        if not kubeconfig and not path.exists():
            continue  # KUBECONFIG may list files that do not exist; kubectl skips them too
        contexts += _contexts(_load(path, kubeconfig is not None))
    if context and contexts and context not in contexts:
        raise UsageError(f"context {context!r} is not in the kubeconfig"
                         + (suggestion(context, contexts) or f" (contexts: {', '.join(sorted(contexts)[:10])})"))


def _load(path: Path, flag: bool) -> dict[str, Any]:
    where = f"--kubeconfig {path}" if flag else f"kubeconfig {path}"
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ClusterError(f"{where}: larger than {MAX_BYTES >> 20} MiB; not a kubeconfig")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ClusterError(f"{where}: not a text file, so not a kubeconfig") from None
    except OSError as exc:
        raise ClusterError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    try:
        # The pure-Python loader, as the client's own yaml.safe_load: libyaml accepts a few
        # texts it rejects.
        doc = yaml.load(text, Loader=NoAliasLoader)
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ClusterError(f"{where}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}; "
                           "not a kubeconfig") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not ({"clusters", "contexts", "users", "current-context"} & set(doc)):
        raise ClusterError(f"{where}: not a kubeconfig (expected a mapping with clusters, contexts "
                           f"and users; found {shapes.describe(doc)})")
    try:
        return shapes.conform(doc, SHAPE)
    except shapes.ShapeError as exc:
        raise ClusterError(f"{where}: not a valid kubeconfig: {exc}") from None


def _contexts(doc: dict[str, Any]) -> list[str]:
    return [c["name"] for c in doc.get("contexts") or [] if c.get("name")]
