"""Policy kinds beyond NetworkPolicy: which installed ones select a pod.

Network plugins add their own policy APIs (Cilium, Calico) and the Kubernetes
network-policy-api project adds cluster-wide tiers (AdminNetworkPolicy and
BaselineAdminNetworkPolicy, now ClusterNetworkPolicy). They are enforced together with
NetworkPolicy, but svcdoctor evaluates only NetworkPolicy, so a report must name the
other policies that select the pods instead of ignoring them.

Selection here is each API's documented subject semantics; where a selector cannot be
read (a Calico expression beyond ``&&`` of simple terms) the policy "may select" the pod.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from .. import kube
from ..kube import Obj


@dataclass(frozen=True)
class PolicyAPI:
    family: str            # what the report calls them together
    group: str
    plural: str
    kind: str
    namespaced: bool
    versions: tuple[str, ...]   # the versions svcdoctor knows, most preferred first

    @property
    def label(self) -> str:
        """The kind qualified by its group: Calico's kind is also "NetworkPolicy"."""
        return f"{self.kind}.{self.group}"

    def path(self, version: str) -> str:
        return f"/apis/{self.group}/{version}/{self.plural}"


ADMIN = "policy.networking.k8s.io"
APIS = (
    PolicyAPI("Cilium", "cilium.io", "ciliumnetworkpolicies", "CiliumNetworkPolicy", True, ("v2",)),
    PolicyAPI("Cilium", "cilium.io", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", False, ("v2",)),
    PolicyAPI("Calico", "crd.projectcalico.org", "networkpolicies", "NetworkPolicy", True, ("v1",)),
    PolicyAPI("Calico", "crd.projectcalico.org", "globalnetworkpolicies", "GlobalNetworkPolicy", False, ("v1",)),
    PolicyAPI("AdminNetworkPolicy", ADMIN, "adminnetworkpolicies", "AdminNetworkPolicy", False, ("v1alpha1",)),
    PolicyAPI("AdminNetworkPolicy", ADMIN, "baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy", False,
              ("v1alpha1",)),
    PolicyAPI("AdminNetworkPolicy", ADMIN, "clusternetworkpolicies", "ClusterNetworkPolicy", False,
              ("v1beta1", "v1alpha2")),
)

# What the report calls each family, and what it adds to the verdict.
WORDS = {"Cilium": "Cilium policies", "Calico": "Calico policies",
         "AdminNetworkPolicy": "cluster-wide admin policies (AdminNetworkPolicy API)"}
EFFECT = {
    "Cilium": "Cilium enforces them together with NetworkPolicy: a connection must be allowed by both",
    "Calico": "Calico enforces them in order together with NetworkPolicy, and their Deny and Pass actions can "
              "drop traffic a NetworkPolicy admits",
    "AdminNetworkPolicy": "they are evaluated before NetworkPolicy: an Allow (Accept) rule admits traffic "
                          "NetworkPolicy would drop, a Deny drops traffic it admits, and the baseline tier "
                          "applies where no NetworkPolicy selects the pods",
}


def group_of(obj: Obj) -> str:
    api = str(obj.get("apiVersion") or "")
    return api.split("/")[0] if "/" in api else ""


def objects(items: Iterable[Obj], api: PolicyAPI) -> list[Obj]:
    return [o for o in items if o.get("kind") == api.kind and group_of(o) == api.group]


def served_version(groups: Iterable[Obj], api: PolicyAPI) -> str | None:
    """The version to read ``api`` at, from the API server's discovery (APIGroup objects)."""
    for g in groups:
        if g.get("name") == api.group:
            served = [v.get("version") for v in g.get("versions") or [] if isinstance(v, dict)]
            return next((v for v in api.versions if v in served), None)
    return None


# --- selection -------------------------------------------------------------------------------

def selects(api: PolicyAPI, policy: Obj, pod: Obj, namespace: Obj) -> bool | None:
    """Does ``policy`` select ``pod``: True, False, or None (its selector is beyond reading)."""
    if api.namespaced and kube.namespace(policy) != kube.namespace(pod):
        return False
    spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
    if api.family == "Cilium":
        return _cilium(policy, spec, pod, namespace)
    if api.family == "Calico":
        return _calico(api, spec, pod, namespace)
    return _admin_subject(spec.get("subject"), pod, namespace)


def _cilium(policy: Obj, spec: Obj, pod: Obj, namespace: Obj) -> bool | None:
    specs = [spec] if spec else []
    specs += [s for s in policy.get("specs") or [] if isinstance(s, dict)]
    labels = dict(kube.labels(pod))
    labels["io.kubernetes.pod.namespace"] = kube.namespace(pod)
    labels["io.cilium.k8s.policy.serviceaccount"] = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
    labels.update({f"io.cilium.k8s.namespace.labels.{k}": v for k, v in kube.labels(namespace).items()})
    for s in specs:
        sel = s.get("endpointSelector")
        if isinstance(sel, dict) and kube.label_selector_matches(_strip_sources(sel), labels):
            return True   # a nodeSelector spec is a host policy: it selects nodes, not pods
    return False


def _strip_sources(sel: Obj) -> Obj:
    """Cilium label keys may carry a source prefix (``k8s:app``, ``any:app``)."""
    def key(k: str) -> str:
        return k.split(":", 1)[1] if k.split(":", 1)[0] in ("k8s", "any") and ":" in k else k
    return {"matchLabels": {key(k): v for k, v in (sel.get("matchLabels") or {}).items()},
            "matchExpressions": [dict(e, key=key(str(e.get("key")))) for e in sel.get("matchExpressions") or []]}


def _calico(api: PolicyAPI, spec: Obj, pod: Obj, namespace: Obj) -> bool | None:
    labels = dict(kube.labels(pod))
    labels.update({"projectcalico.org/namespace": kube.namespace(pod),
                   "projectcalico.org/orchestrator": "k8s",
                   "projectcalico.org/serviceaccount": str((pod.get("spec") or {}).get("serviceAccountName") or "default")})
    verdict = calico_selector(str(spec.get("selector") or ""), labels)
    if api.namespaced or not spec.get("namespaceSelector"):
        return verdict
    ns_labels = dict(kube.labels(namespace), **{"projectcalico.org/name": kube.name(namespace)})
    ns_verdict = calico_selector(str(spec["namespaceSelector"]), ns_labels)
    if False in (verdict, ns_verdict):
        return False
    return None if None in (verdict, ns_verdict) else True


_TERM = re.compile(r"""^\s*(?:
      (?P<all>all\(\s*\))
    | (?P<neg>!)?\s*has\(\s*(?P<has>[\w./-]+)\s*\)
    | (?P<key>[\w./-]+)\s*(?P<op>==|!=|\bnot\s+in\b|\bin\b)\s*(?P<val>'[^']*'|"[^"]*"|\{[^}]*\})
    )\s*$""", re.X)


def calico_selector(expr: str, labels: dict[str, str]) -> bool | None:
    """A Calico selector over ``labels``: ``&&`` of ``all()``, ``has(k)``, ``!has(k)``,
    ``k == 'v'``, ``k != 'v'``, ``k in {'a', 'b'}``, ``k not in {…}``; None for anything else
    (``||``, parentheses, ``contains``…), which the report treats as "may select"."""
    if not expr.strip():
        return True   # an empty selector is all()
    if "||" in expr or "(" in expr.replace("all(", "").replace("has(", ""):
        return None
    for term in expr.split("&&"):
        m = _TERM.match(term)
        if m is None:
            return None
        if m["all"]:
            continue
        if m["has"]:
            if (m["has"] in labels) == bool(m["neg"]):
                return False
            continue
        key, op, raw = m["key"], re.sub(r"\s+", " ", m["op"]), m["val"]
        values = re.findall(r"'([^']*)'|\"([^\"]*)\"", raw)
        wanted = {a or b for a, b in values}
        have = labels.get(key)
        ok = {"==": have in wanted, "!=": have not in wanted, "in": have in wanted,
              "not in": have not in wanted}[op]
        if not ok:
            return False
    return True


def _admin_subject(subject: Any, pod: Obj, namespace: Obj) -> bool | None:
    if not isinstance(subject, dict):
        return None
    if isinstance(subject.get("namespaces"), dict):
        return kube.label_selector_matches(subject["namespaces"], kube.labels(namespace))
    pods = subject.get("pods")
    if isinstance(pods, dict):
        return (kube.label_selector_matches(pods.get("namespaceSelector") or {}, kube.labels(namespace))
                and kube.label_selector_matches(pods.get("podSelector") or {}, kube.labels(pod)))
    return None


@dataclass(frozen=True)
class Selecting:
    api: PolicyAPI
    policy: Obj
    certain: bool        # False: the selector could not be read, it may select the pod

    @property
    def ref(self) -> str:
        ns = kube.namespace(self.policy)
        kind = "Calico NetworkPolicy" if self.api.label == "NetworkPolicy.crd.projectcalico.org" else self.api.kind
        return f"{kind} {ns + '/' if ns else ''}{kube.name(self.policy)}"


def selecting(items: list[Obj], pod: Obj, namespace: Obj) -> list[Selecting]:
    """Every policy of the other APIs in ``items`` that selects (or may select) ``pod``."""
    out = []
    for api in APIS:
        for pol in objects(items, api):
            verdict = selects(api, pol, pod, namespace)
            if verdict is not False:
                out.append(Selecting(api, pol, verdict is True))
    return out
