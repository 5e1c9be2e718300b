"""Hook specifications: the whole plugin API of svcdoctor.

A plugin is a module (or object) with functions marked ``@svcdoctor.hookimpl`` whose names
and arguments match the specifications below. Register it through the entry-point group
``svcdoctor`` in your package metadata::

    [project.entry-points.svcdoctor]
    mycompany = "mycompany_svcdoctor.checks"

Built-in plugins (``svcdoctor/plugins/``) register the same way; the
core never imports a check by name. ``svcdoctor plugins`` lists what is loaded. A function
marked ``@hookimpl`` whose name is not a hook below is an error at load time, so a typo
fails loudly instead of silently never running.

Environment:
    ``SVCDOCTOR_PLUGINS=a,b``  load only these entry points (by entry-point name).
    ``SVCDOCTOR_TRACE=1``      print every hook call to stderr.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

from .findings import CheckFunc

hookspec = pluggy.HookspecMarker("svcdoctor")
hookimpl = pluggy.HookimplMarker("svcdoctor")


@hookspec
def register_checks(register: Callable[..., None]) -> None:
    """Register checks: pure functions from evidence to findings.

    Called once per plugin when the plugin manager is built, before any diagnosis.
    Call ``register(func, emits=(...))`` for each check, where ``func(evidence)`` returns
    an iterable of :class:`svcdoctor.findings.Finding` and ``emits`` lists every finding ID
    the check may produce (each must have a playbook), and optionally ``targets``, the
    target kinds it applies to: ``("Service",)`` by default; a check of the L7 hop also
    names ``"Ingress"``, the route kinds and ``"URL"`` (``svcdoctor.l7.TARGETS``), and then
    reads ``evidence.l7_refs`` instead of ``evidence.service``. A check must only read the
    :class:`svcdoctor.evidence.Evidence` it is given: no API calls, no sockets, no clock.
    The host stamps each check's name as ``<plugin>.<function name>``; a duplicate name is
    an error. A check that raises does not stop the diagnosis: its failure is reported as
    ``could-not-verify``.

    Returns nothing.
    """


@hookspec
def plan_reads(evidence: Any, read: Callable[..., None]) -> None:
    """Ask the live source for extra objects this plugin's checks need.

    Called after the first round of reads of a live diagnosis, and again after each
    round of planned reads until no plugin asks for a path not yet read (at most 4
    rounds; never for recordings or offline input, which hold what they hold).
    ``evidence`` is what the reads so far brought: for a Service target the Service as the
    API server returned it, its EndpointSlices, the namespace's pods and events, the nodes,
    the kube-system pods, then whatever earlier rounds planned; for an L7 target
    (``evidence.target.kind`` Ingress, a route kind or URL) the object(s) in front.
    Decide from it whether the extra read is worth a request; a later round may depend on
    an earlier one's answer (routes only where a GatewayClass exists). ``path`` may carry a
    ``?labelSelector=…`` query; ``read("APIGroup", "/apis", …)`` reads the API server's
    group discovery, each group becoming an ``APIGroup`` entry (name, versions), so a later
    round can read a CRD at the version it is served. A kind another API group also uses
    (Calico's ``NetworkPolicy``) is told apart by ``apiVersion``; give such a read a
    qualified ``kind`` (``"NetworkPolicy.crd.projectcalico.org"``) so ``collected`` stays exact. Call ``read(kind, path, what)`` for each list to fetch: ``kind`` is
    the object kind the items get (e.g. ``"IPAddressPool"``), ``path`` the API path of a
    list (e.g. ``"/apis/metallb.io/v1beta1/ipaddresspools"``), ``what`` the words for a
    could-not-verify ("list MetalLB IPAddressPools"). Reads must be GET/LIST and never
    Secrets. A 404 means the API is not installed: the kind is then in
    ``evidence.absent``, looked at and empty. A 403 becomes a gap (could-not-verify).
    Every read counts against the diagnosis' request budget (README, "API requests"), so
    plan only what the evidence shows is needed.

    Returns nothing.
    """


@hookspec
def detect_lb_implementations(evidence: Any, found: Callable[..., None]) -> None:
    """Say which load-balancer implementations the evidence shows in this cluster.

    Called once per diagnosis of a Service of type LoadBalancer, before the checks run,
    so that checks can ask "who should implement this load balancer?" through
    ``evidence.lb_implementations``. Call ``found(name, classes=(), default=True,
    evidence=[])`` for each implementation seen: ``name`` as a user knows it ("MetalLB",
    "AWS Load Balancer Controller"), ``classes`` the ``spec.loadBalancerClass`` values it
    serves, ``default`` whether it also serves Services without a class, ``evidence`` the
    :class:`svcdoctor.findings.Ref` objects it was recognised by. Report only what the
    evidence shows; what could not be read stays in ``evidence.gaps`` for the checks to
    turn into could-not-verify.

    Returns nothing.
    """


@hookspec
def plan_probes(evidence: Any, plan: Callable[[Any], None], options: Any) -> None:
    """Plan the network probes a live diagnosis should run.

    Called once per live diagnosis, after the evidence is collected and before the checks
    run; never for recordings or offline input (recordings replay the outcomes they hold).
    Call ``plan(probe)`` with a :class:`svcdoctor.probes.Probe` (kind ``tcp``, ``http`` or
    ``dns``) for each probe. ``options`` is the :class:`svcdoctor.probes.ProbeOptions` of
    this run (timeout, node cap, which node address type to use). Targets must come from
    ``evidence``: the Service's nodes, its load-balancer status, its ExternalName. The host
    refuses any other address, so a plugin can never be made to dial what a user typed.
    The prober runs every planned probe concurrently and stores the outcomes in
    ``evidence.probes`` for the checks to read.

    Returns nothing.
    """


@hookspec
def collect_external(evidence: Any, options: Any, store: Callable[[str, Any], None]) -> None:
    """Read state outside Kubernetes that this plugin's checks need: the cloud's own view
    of the Service's load balancer (target health, listeners, security groups).

    Called once per live diagnosis of a Service, after the Kubernetes reads and before the
    probes; never for recordings or offline input, which replay what they hold. ``options``
    is the :class:`svcdoctor.cloud.CloudOptions` of this run: ``cloud`` ("aws", "gcp",
    "azure", "none", or None to detect it from the nodes' providerID), ``deadline`` (seconds
    for the whole read, which the plugin must keep) and ``call_timeout``. Call
    ``store(name, data)`` once with plain JSON-serialisable data (``name`` e.g. "aws"): it
    becomes ``evidence.external[name]``, is written into recordings (account identifiers
    masked) and replayed as it is. Use read-only calls only (Describe/Get/List). A read that
    fails is data too: keep ``{"action": "elasticloadbalancing:DescribeTargetHealth",
    "code": "AccessDenied", "message": …}`` in the data's ``errors`` so a check can say
    could-not-verify and name the permission; do not raise. The host turns an exception
    into such an error anyway.

    Returns nothing.
    """


# Re-exported so plugins can annotate their checks without reaching into the core.
__all__ = ["hookspec", "hookimpl", "register_checks", "CheckFunc"]
