"""Which workload a selector was meant for, and whether to offer the patch.

A Service whose selector matches nothing gets near misses: workloads whose pods almost
carry its labels, ranked by how close the differing values are (svcdoctor.similar), how
many pairs match, and the Service's own name. A ``kubectl patch`` is offered only when one
workload is clearly the closest, strong enough, not contradicted by the Service's name,
not merely a longer name (another component), and its labels select exactly its own pods
among every pod in the namespace. Otherwise the candidates are listed with the commands to
compare them: a wrong fix command sends traffic to another application.

Used by the backends plugin; registers nothing itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from svcdoctor import kube, similar
from svcdoctor.kube import Obj


def short(workload: str) -> str:
    """``Deployment web`` → ``web``: the name to compare with the Service's."""
    return workload.split(" ", 1)[-1]


def by_workload(pods: list[Obj]) -> dict[str, list[Obj]]:
    groups: dict[str, list[Obj]] = {}
    for p in pods:
        groups.setdefault(kube.workload(p), []).append(p)
    return groups


# How much one selector pair counts when the pods carry its value under another key
# (app → app.kubernetes.io/name), or do not carry the key at all (the fix drops the pair).
_OTHER_KEY, _NO_KEY = 0.9, 0.75


@dataclass
class _Near:
    """A workload whose pods almost match the selector."""

    workload: str
    ref: str
    text: str
    score: float                        # product of its pairs' closeness (a matching pair: 1)
    matched: int                        # selector pairs its pods satisfy
    proposal: dict[str, str] | None     # the selector that would select its pods
    extends: str                        # the selector value its pods' value adds tokens to
                                        # ("payments" for payments-ui), else ""
    named: float                        # closeness of its name to the Service's

    def describe(self) -> str:
        return f"{self.workload} ({kube.format_selector(self.proposal or {})})"


def _pair(key: str, want: str, sel: dict[str, str], lbl: dict[str, str]) -> tuple[float, str, dict, str]:
    """How close a pod's labels come to one differing selector pair: (closeness, what the
    pod has, the pair that would match it ({} = drop the pair), ``want`` if the pod's
    value only adds tokens to it, else "")."""
    if key in lbl:
        have = lbl[key]
        return (similar.closeness(want, have), f"has {key}={have} instead of {key}={want}",
                {key: have}, want if similar.extends(want, have) else "")
    keys = sorted((k for k, v in lbl.items() if v == want and k not in sel),
                  key=lambda k: (-similar.closeness(key, k), k))
    if keys:
        return _OTHER_KEY, f"has {keys[0]}={want} instead of {key}={want}", {keys[0]: want}, ""
    return _NO_KEY, f"has no {key} label", {}, ""


def _near_miss(sel: dict[str, str], workload: str, members: list[Obj], svc_name: str) -> _Near | None:
    lbl = kube.labels(members[0])
    matched = [k for k, v in sel.items() if lbl.get(k) == v]
    diffs = [(k, *_pair(k, v, sel, lbl)) for k, v in sorted(sel.items()) if lbl.get(k) != v]
    if not matched and not any(d[3] for d in diffs):
        return None  # nothing in common: not a near miss
    score = 1.0
    for d in diffs:
        score *= d[1]
    proposal = {k: v for k, v in sel.items() if lbl.get(k) == v}
    for d in diffs:
        proposal.update(d[3])
    count = f" ({len(members)} pods)" if len(members) > 1 else ""
    return _Near(
        workload=workload, ref=kube.ref(members[0]),
        text=f"{workload}{count}: pod {kube.name(members[0])} " + "; ".join(d[2] for d in diffs),
        score=round(score, 3), matched=len(matched),
        proposal=proposal if proposal and kube.selector_matches(proposal, lbl) else None,
        extends=next((d[4] for d in diffs if d[4]), ""), named=similar.closeness(svc_name, short(workload)))


def near_misses(sel: dict[str, str], live: list[Obj], svc_name: str) -> list[_Near]:
    """Workloads whose pods come closest to the selector, closest first.

    Pods are grouped by workload so ten replicas read as one near miss. Closeness of the
    differing values ranks first, then how many pairs match; among those about equally
    close (within similar.MARGIN of the best), the one the Service's name points at."""
    near = [n for wl, members in by_workload(live).items()
            if (n := _near_miss(sel, wl, members, svc_name)) is not None]
    near.sort(key=lambda n: (-n.score, -n.matched, -n.named, n.workload))
    if not near:
        return near
    tied = [n for n in near if near[0].score - n.score < similar.MARGIN]
    tied.sort(key=lambda n: (-n.named, -n.score, -n.matched, n.workload))
    return tied + near[len(tied):]


@dataclass
class _Choice:
    """What to tell the user to change the selector to: one workload's labels, or nothing
    and why (a wrong fix command sends traffic to another application)."""

    winner: _Near | None = None
    tied: list[_Near] = field(default_factory=list)
    name_suggests: str = ""          # the workload the Service's name points at, if one
    conflict: _Near | None = None    # value and name point at different workloads
    named: _Near | None = None       # ... the near miss the name points at, if it is one
    component: _Near | None = None   # the value only matches a longer, more specific name
    weak: bool = False               # the best near miss is not close enough to suggest
    also_selects: list[str] = field(default_factory=list)
    rejected: dict[str, str] | None = None
    elsewhere: bool = False

    def compared(self) -> list[_Near]:
        """The workloads a user should compare before choosing: the tied ones, or the one
        the value points at and the one the name points at."""
        if len(self.tied) > 1:
            return self.tied
        return [self.conflict, self.named] if self.conflict and self.named else []

    def facts(self, sel: dict[str, str]) -> dict[str, Any]:
        ok = self.winner is not None and self.winner.proposal is not None
        tied = len(self.tied) > 1
        return {
            "suggested_selector": kube.format_selector(self.winner.proposal) if ok else "",
            "suggested_patch": selector_patch(sel, self.winner.proposal) if ok else "",
            # the labels are exactly right elsewhere: fixing them here is not the advice
            "no_patch": "" if ok or self.elsewhere else "yes",
            "candidates": [n.describe() for n in self.tied] if tied else [],
            "candidate_selector": _set_selector([n.proposal for n in self.compared()]),
            "name_suggests": (self.name_suggests if tied and self.name_suggests
                              in [n.workload for n in self.tied] else ""),
            "value_suggests": self.conflict.workload if self.conflict else "",
            "name_points_at": self.name_suggests if self.conflict else "",
            "component_workload": self.component.workload if self.component else "",
            "component_selector": (kube.format_selector(self.component.proposal or {})
                                   if self.component else ""),
            "weak_match": "yes" if self.weak else "",
            "rejected_selector": kube.format_selector(self.rejected) if self.rejected else "",
            "also_selects": self.also_selects,
            "selected_elsewhere": "yes" if self.elsewhere else "",
        }


def choose(sel: dict[str, str], near: list[_Near], pods: list[Obj], svc_name: str,
            elsewhere: bool) -> _Choice:
    """The near miss whose labels may become the selector, only when nothing speaks
    against it: it is clearly the closest, strong enough, the Service's name does not
    point elsewhere, and its labels select exactly its own pods among all pods here."""
    live = [p for p in pods if not kube.pod_finished(p)]
    by_name = similar.clear_winner(similar.rank(svc_name, by_workload(live), key=short))
    choice = _Choice(name_suggests=by_name or "", elsewhere=elsewhere)
    if not near or elsewhere:
        return choice  # pods elsewhere carry exactly these labels: the selector is right
    best = near[0]
    if best.score < similar.STRONG:
        choice.weak = True
        return choice
    choice.tied = [n for n in near if best.score - n.score < similar.MARGIN]
    if len(choice.tied) > 1:
        return choice
    if by_name and by_name != best.workload:
        choice.conflict = best
        choice.named = next((n for n in near if n.workload == by_name), None)
        return choice
    if best.extends and not (best.named >= similar.STRONG
                             and best.named > similar.closeness(svc_name, best.extends)):
        # payments → payments-ui: another component, unless the Service's name says so.
        choice.component = best
        return choice
    if best.proposal is None:
        return choice
    others = selects(best.proposal, pods) - {best.workload}
    if others:
        choice.rejected, choice.also_selects = best.proposal, sorted(others)
        return choice
    choice.winner = best
    return choice


def selects(sel: dict[str, str], pods: list[Obj]) -> set[str]:
    """Workloads with at least one pod (finished ones too) that ``sel`` selects."""
    return {kube.workload(p) for p in pods if kube.selector_matches(sel, kube.labels(p))}


def _set_selector(proposals: list[dict[str, str] | None]) -> str:
    """One label query for every candidate: ``app in (web-frontend,web-backend)``."""
    if not proposals or any(p is None for p in proposals):
        return ""
    keys = [k for k in proposals[0] or {} if all(k in (p or {}) for p in proposals)]
    parts = []
    for k in sorted(keys):
        values = list(dict.fromkeys((p or {})[k] for p in proposals))
        parts.append(f"{k}={values[0]}" if len(values) == 1 else f"{k} in ({','.join(values)})")
    return ",".join(parts)


def selector_patch(old: dict[str, str], new: dict[str, str]) -> str:
    # A merge patch only adds/changes keys; removed keys must be set to null.
    patch = {k: new.get(k) for k in sorted(set(old) | set(new))}
    return json.dumps({"spec": {"selector": patch}}, separators=(",", ":"))
