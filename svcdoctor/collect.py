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
from .cloud import CloudOptions
from .evidence import Evidence


def live(name: str | None, namespace: str | None, *, context: str | None = None,
         kubeconfig: str | None = None, timeout: float | None = None,
         probe: probes.ProbeOptions | None = None, clients: list[dict[str, str]] | None = None,
         cloud: CloudOptions | None = None) -> Evidence:
    """Read the Service's evidence from the cluster (README "API load"), then what only the
    cloud can tell (its load balancer's own state), then probe what only the network can
    tell (unless ``probe.enabled`` is False)."""
    from . import external, probing, registry
    from .sources.live import evidence_from_cluster

    evidence = evidence_from_cluster(name, namespace, context=context, kubeconfig=kubeconfig,
                                     timeout=timeout, registry=registry.default(), clients=clients)
    external.collect(evidence, registry.default(), cloud or CloudOptions())
    probing.probe(evidence, registry.default(), probe or probes.ProbeOptions())
    return evidence


def offline(path: str | Path, name: str | None, namespace: str | None,
            observed_at: datetime | None = None, kind: str = "Service",
            clients: list[dict[str, str]] | None = None) -> Evidence:
    """A recording, kubectl output or a cluster-info dump folder; ``kind`` says what
    ``name`` is (a Service, an Ingress or route kind, or "URL"). ``clients`` replace the
    ones a recording names."""
    from .sources.open import evidence_from_path

    evidence = evidence_from_path(path, name, namespace, observed_at, kind)
    if clients:
        evidence.clients = [{**c, "namespace": c.get("namespace") or evidence.target.namespace}
                            if "cidr" not in c else c for c in clients]
    _check_url(evidence)
    return evidence


def front(kind: str, name: str, namespace: str | None, *, context: str | None = None,
          kubeconfig: str | None = None, timeout: float | None = None,
          probe: probes.ProbeOptions | None = None) -> Evidence:
    """Evidence for an Ingress, a route or a URL from the cluster, then an HTTP probe of
    the Ingress / Gateway addresses its status gives (unless ``probe.enabled`` is False)."""
    from . import probing, registry
    from .sources.live import front_from_cluster
    from .target import Target

    evidence = front_from_cluster(Target(namespace or "", name, kind), context=context,
                                  kubeconfig=kubeconfig, timeout=timeout, registry=registry.default())
    _check_url(evidence)
    probing.probe(evidence, registry.default(), probe or probes.ProbeOptions())
    return evidence


def _check_url(evidence: Evidence) -> None:
    """A URL nothing in the cluster serves is bad input: one line, with the hosts served."""
    if evidence.target.kind != "URL" or evidence.l7_refs:
        return
    from .errors import NotFoundError
    from .l7 import refs, urls
    from .similar import suggestion

    url = urls.parse(evidence.target.name)
    hosts = urls.hosts_served(list(evidence.fronts()))
    looked = ", ".join(sorted(k for k in ("Ingress", "HTTPRoute", "GRPCRoute") if evidence.was_collected(k)))
    hint = suggestion(url.host, hosts) or (f"; hosts served: {', '.join(hosts[:10])}" if hosts else "")
    raise NotFoundError(f"no Ingress rule or route matches {url} (looked at {looked or 'nothing'}){hint}")
