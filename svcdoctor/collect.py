"""Evidence for one Service, from wherever it is: the first half of every surface's path
(CLI, kubectl plugin, Slack, MCP), so they all see the same thing.

    evidence = collect.live("web", "shop", context="prod")      # the cluster, then probes
    evidence = collect.offline("dump.yaml", "web", "shop")      # a recording or kubectl output
    report = diagnose(evidence)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from . import probes
from .evidence import Evidence


def live(name: str | None, namespace: str | None, *, context: str | None = None,
         kubeconfig: str | None = None, timeout: float | None = None,
         probe: probes.ProbeOptions | None = None) -> Evidence:
    """Read the Service's evidence from the cluster (at most 8 requests), then probe what
    only the network can tell (unless ``probe.enabled`` is False)."""
    from . import probing, registry
    from .sources.live import evidence_from_cluster

    evidence = evidence_from_cluster(name, namespace, context=context, kubeconfig=kubeconfig,
                                     timeout=timeout, registry=registry.default())
    probing.probe(evidence, registry.default(), probe or probes.ProbeOptions())
    return evidence


def offline(path: str | Path, name: str | None, namespace: str | None,
            observed_at: datetime | None = None) -> Evidence:
    """A recording, kubectl output or a cluster-info dump folder."""
    from .sources.open import evidence_from_path

    return evidence_from_path(path, name, namespace, observed_at)
