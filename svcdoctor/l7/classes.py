"""Which Ingress class an Ingress has, and which Ingress controllers are running.

An Ingress is claimed through ``spec.ingressClassName`` (an IngressClass whose
``spec.controller`` names the controller); without it, through the IngressClass annotated
``ingressclass.kubernetes.io/is-default-class: "true"`` (the API server's admission plugin
fills ``ingressClassName`` in at creation only, so older Ingresses stay without it); or
through the deprecated ``kubernetes.io/ingress.class`` annotation, which each controller
compares with its own class name. Controllers are recognised from the pods the evidence
holds (labels and images), and from the nodes for controllers that run outside the
cluster (GKE's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .. import kube
from ..kube import Obj

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True)
class Controller:
    """An Ingress controller as its source defines it (texts from each project's code)."""

    name: str                  # as users know it
    controller: str            # the IngressClass spec.controller value it serves ("" = none)
    legacy_classes: tuple[str, ...]  # kubernetes.io/ingress.class values it honours by default
    pod_names: tuple[str, ...]  # app.kubernetes.io/name (or app / k8s-app) values of its pods
    images: tuple[str, ...]    # image name fragments
    without_class: bool = False  # claims Ingresses with neither class nor annotation by default
    flag_without_class: str = ""  # the flag that turns that on
    provider: str = ""         # a controller outside the cluster: the nodes' providerID scheme


CONTROLLERS = (
    # ingress-nginx store.go GetIngressClass: ingressClassName → an IngressClass with
    # spec.controller == --controller-class; else the annotation == --ingress-class; else only
    # with --watch-ingress-without-class. It never reads is-default-class itself.
    Controller("ingress-nginx", "k8s.io/ingress-nginx", ("nginx",), ("ingress-nginx",),
               ("ingress-nginx/controller",), flag_without_class="watch-ingress-without-class"),
    # Traefik: an empty or missing annotation is accepted when no ingressClass option is set.
    Controller("Traefik", "traefik.io/ingress-controller", ("traefik",), ("traefik",), ("traefik",),
               without_class=True),
    Controller("HAProxy Kubernetes Ingress", "haproxy.org/ingress-controller", ("haproxy",),
               ("kubernetes-ingress",), ("haproxytech/kubernetes-ingress",), without_class=True),
    Controller("HAProxy Ingress", "haproxy-ingress.github.io/controller", ("haproxy",),
               ("haproxy-ingress",), ("haproxy-ingress",)),
    # Contour claims by class name ("contour"), and accepts an empty class by default.
    Controller("Contour", "projectcontour.io/ingress-controller", ("contour",), ("contour",),
               ("projectcontour/contour", "bitnami/contour"), without_class=True),
    Controller("Kong", "ingress-controllers.konghq.com/kong", ("kong",), ("kong", "ingress-kong"),
               ("kong/kubernetes-ingress-controller",)),
    Controller("NGINX Ingress Controller (F5 NGINX)", "nginx.org/ingress-controller", ("nginx",),
               ("nginx-ingress",), ("nginx/nginx-ingress", "nginx-plus-ingress")),
    # aws-load-balancer-controller: annotation == --ingress-class (alb) or an IngressClass
    # with controller ingress.k8s.aws/alb; without either only when configured to.
    Controller("AWS Load Balancer Controller", "ingress.k8s.aws/alb", ("alb",),
               ("aws-load-balancer-controller",), ("aws-load-balancer-controller",)),
    Controller("Cilium", "cilium.io/ingress-controller", ("cilium",), (), ("cilium/operator",)),
    Controller("Istio", "istio.io/ingress-controller", ("istio",), ("istiod",), ("istio/pilot",)),
    # ingress-gce (IsGCEIngress) reads only the annotation, and claims an Ingress without
    # ingressClassName; it runs in GKE's control plane, so no pod of it is visible.
    Controller("GKE Ingress (ingress-gce)", "", ("gce", "gce-internal", "gce-regional-external",
                                                 "gce-multi-cluster"), (), (), without_class=True,
               provider="gce"),
)
BY_NAME = {c.name: c for c in CONTROLLERS}
NAME_LABELS = ("app.kubernetes.io/name", "app", "k8s-app")


@dataclass(frozen=True)
class Running:
    controller: Controller
    pods: tuple[str, ...]      # "ns/name" of its ready pods ("" entries never)
    ready: int
    total: int
    args: tuple[str, ...]      # the controller container's args, for class flags

    def flag(self, name: str) -> str | None:
        """``--name=value`` or ``--name value`` in the args; "true" for a bare ``--name``."""
        for i, a in enumerate(self.args):
            if a == f"--{name}":
                nxt = self.args[i + 1] if i + 1 < len(self.args) else ""
                return nxt if nxt and not nxt.startswith("-") else "true"
            if a.startswith(f"--{name}="):
                return a.split("=", 1)[1]
        return None

    @property
    def class_names(self) -> tuple[str, ...]:
        flag = self.flag("ingress-class") or self.flag("ingress.class")
        return (flag,) if flag else self.controller.legacy_classes

    @property
    def controller_value(self) -> str:
        return self.flag("controller-class") or self.controller.controller

    @property
    def watches_without_class(self) -> bool:
        if self.controller.flag_without_class:
            return (self.flag(self.controller.flag_without_class) or "").lower() == "true"
        return self.controller.without_class


def _recognise(pod: Obj) -> Controller | None:
    lbls = kube.labels(pod)
    values = {lbls.get(k) for k in NAME_LABELS} - {None}
    images = [str(c.get("image") or "") for c in (pod.get("spec") or {}).get("containers") or []]
    for c in CONTROLLERS:
        if c.provider:
            continue
        if values & set(c.pod_names) or any(f in i for f in c.images for i in images):
            return c
    return None


def running(pods: Iterable[Obj], nodes: Iterable[Obj] = ()) -> list[Running]:
    """The controllers whose pods (or, for GKE, nodes) the evidence shows."""
    found: dict[str, list[Obj]] = {}
    for p in pods:
        if kube.pod_finished(p):
            continue
        c = _recognise(p)
        if c is not None:
            found.setdefault(c.name, []).append(p)
    out = []
    for cname, ps in found.items():
        c = BY_NAME[cname]
        ready = [p for p in ps if kube.pod_ready(p) and not kube.pod_terminating(p)]
        args = tuple(str(a) for p in ps[:1] for ctr in (p.get("spec") or {}).get("containers") or []
                     for a in (ctr.get("args") or []))
        out.append(Running(c, tuple(f"{kube.namespace(p)}/{kube.name(p)}" for p in ready),
                           len(ready), len(ps), args))
    if any(str((n.get("spec") or {}).get("providerID") or "").startswith("gce://") for n in nodes):
        gce = BY_NAME["GKE Ingress (ingress-gce)"]
        out.append(Running(gce, (), 1, 1, ()))
    return out


@dataclass(frozen=True)
class Claim:
    """How an Ingress names its class."""

    class_name: str            # "" when it names none
    how: str                   # "spec.ingressClassName", "annotation kubernetes.io/ingress.class",
                               # or "" (none)
    ingress_class: Obj | None  # the IngressClass object, when one applies


def default_classes(classes: Iterable[Obj]) -> list[Obj]:
    return [c for c in classes
            if (kube.meta(c).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]


def claim(ing: Obj, classes: list[Obj]) -> Claim:
    spec = ing.get("spec") or {}
    by_name = {kube.name(c): c for c in classes}
    if spec.get("ingressClassName"):
        name = str(spec["ingressClassName"])
        return Claim(name, "spec.ingressClassName", by_name.get(name))
    legacy = (kube.meta(ing).get("annotations") or {}).get(LEGACY_ANNOTATION)
    if legacy:
        return Claim(str(legacy), f"annotation {LEGACY_ANNOTATION}", by_name.get(str(legacy)))
    return Claim("", "", None)


def claimants(ing: Obj, classes: list[Obj], controllers: list[Running]) -> list[Running]:
    """The running controllers that serve this Ingress, by each one's own rule."""
    c = claim(ing, classes)
    out = []
    for r in controllers:
        ctrl = r.controller
        if c.how == "spec.ingressClassName":
            if ctrl.name == "Contour":
                ok = c.class_name in r.class_names
            elif ctrl.provider == "gce":
                ok = False  # ingress-gce ignores Ingresses that set ingressClassName
            else:
                ok = (c.ingress_class is not None and bool(r.controller_value)
                      and str((c.ingress_class.get("spec") or {}).get("controller") or "").startswith(r.controller_value))
        elif c.how:
            ok = c.class_name in r.class_names
        else:
            ok = r.watches_without_class
        if ok:
            out.append(r)
    return out
