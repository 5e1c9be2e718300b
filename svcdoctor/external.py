"""State outside Kubernetes, through the plugins' collect_external hook (live only)."""

from __future__ import annotations

from typing import Any

from .cloud import CloudOptions
from .evidence import Evidence
from .redact import mask_accounts
from .registry import Registry


def collect(evidence: Evidence, registry: Registry, options: CloudOptions) -> None:
    """Fill ``evidence.external``; a plugin that raises leaves an error entry, not a crash."""
    if options.cloud == "none":
        evidence.external_note = "cloud reads disabled (--cloud none)"
        return

    def store(name: str, data: Any) -> None:
        evidence.external[str(name)] = data

    given = {"evidence": evidence, "options": options, "store": store}
    for impl in registry.pm.hook.collect_external.get_hookimpls():
        try:   # one by one, so that one plugin's failure leaves the others' reads
            impl.function(**{a: given[a] for a in impl.argnames})
        except Exception as exc:  # a plugin's bug must not end the diagnosis
            evidence.external.setdefault(impl.plugin_name, {"errors": [{
                "action": "", "code": type(exc).__name__, "message": mask_accounts(str(exc))[:300]}]})
