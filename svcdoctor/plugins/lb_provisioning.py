"""Load-balancer provisioning failures, as the controllers themselves report them.

The cloud service controller (event source ``service-controller``), the AWS Load Balancer
Controller (``service``) and friends post Warning events on the Service when they fail.
This check takes the latest failure that no later success superseded and translates the
message with the table in ``lb_errors.yaml`` (data, so adding a translation is a small
change); an unknown message is passed through verbatim with its count and age. It never
guesses: without such an event it says nothing.
"""

from __future__ import annotations

from typing import Any, Iterator


from svcdoctor import hookimpl, kube, tables
from svcdoctor.evidence import Evidence
from svcdoctor.findings import Finding, Ref, Severity
from svcdoctor.wording import cause_facts

FAILURES = {"SyncLoadBalancerFailed", "CreatingLoadBalancerFailed", "UpdateLoadBalancerFailed",
            "FailedBuildModel", "FailedDeployModel", "LoadBalancerManualChange",
            "ConflictConfiguration", "LoadBalancerMixedProtocolNotSupported"}
# Event source component → who that is (the AWS Load Balancer Controller posts as "service").
CONTROLLERS = {"service-controller": "cloud provider's service controller",
               "service": "AWS Load Balancer Controller (event source \"service\")",
               "service-lb-controller": "k3s ServiceLB controller"}
SUCCESSES = {"EnsuredLoadBalancer", "SuccessfullyReconciled", "UpdatedLoadBalancer"}


def translations() -> tuple[dict[str, Any], ...]:
    return tables.bundled("svcdoctor.plugins", "lb_errors.yaml")


def translate(message: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    return tables.search(translations(), message)


@hookimpl
def register_checks(register) -> None:
    register(provisioning, emits=("lb-provisioning-failed", "lb-requested-ip-not-allowed"))


def provisioning(ev: Evidence) -> Iterator[Finding]:
    if kube.service_type(ev.service) != "LoadBalancer":
        return
    events = ev.events_for("Service", ev.target.name)
    failures = [e for e in events if e.get("reason") in FAILURES]
    latest = kube.latest(failures)
    if latest is None:
        return
    ingress = ((ev.service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    success = kube.latest(e for e in events if e.get("reason") in SUCCESSES)
    if ingress and kube.seen_after(success, latest):
        return  # it failed once, then succeeded
    message = kube.event_message(latest)
    entry, groups = translate(message)
    facts: dict[str, Any] = {
        "reason": latest.get("reason"),
        "source": CONTROLLERS.get(kube.event_source(latest), kube.event_source(latest) or "load-balancer"),
        "message": message, "when": ev.event_span(latest),
        "pending": "yes" if not ingress else "", "translation": entry["id"] if entry else "unknown",
        "unknown": "" if entry else "yes", "outcome": "could not be set up", "failed": "yes", **groups,
    }
    if entry:
        base = {"namespace": ev.target.namespace, "service": ev.target.name, **groups}
        facts.update({"provider": entry["provider"], **cause_facts(entry, base)})
    else:
        facts["cause_title"] = f"{latest.get('reason')} (not a known error)"
    yield Finding((entry or {}).get("finding", "lb-provisioning-failed"), Severity.CRITICAL if not ingress else Severity.WARNING,
                  f"Service {ev.target} load balancer", facts=facts,
                  evidence=[Ref.event(latest, ev)]
                  + ([Ref.field(ev.service, "status.loadBalancer", {})] if not ingress else []))
