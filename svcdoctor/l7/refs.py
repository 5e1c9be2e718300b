"""The backends an Ingress or a route names, and how their ports match the Service's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from .. import kube
from ..kube import Obj
from . import GATEWAY_GROUP


@dataclass(frozen=True)
class BackendRef:
    """One backend reference: ``owner`` (an Ingress or route) sends traffic to a Service."""

    owner: Obj = field(compare=False, repr=False)
    owner_ref: str          # "Ingress shop/web"
    namespace: str          # where the backend is looked up
    name: str
    port: int | str | None  # Ingress: number or name; route: number (None when missing)
    pointer: str            # JSON pointer of the reference in owner, for a json patch
    hosts: tuple[str, ...] = ()
    path: str = ""          # "/cart" (Prefix), for the summary
    kind: str = "Service"
    group: str = ""
    default: bool = False   # an Ingress's defaultBackend

    @property
    def service(self) -> str:
        return f"{self.namespace}/{self.name}"

    def describe(self) -> str:
        host = ",".join(self.hosts) or "*"
        where = "default backend" if self.default else f"{host}{self.path or ''}"
        return f"{self.owner_ref} ({where}) → {self.kind.lower()} {self.service} port {self.port if self.port is not None else '(none)'}"


def ingress_backends(ing: Obj) -> list[BackendRef]:
    """Every Service backend of an Ingress: each rule's paths, then spec.defaultBackend."""
    ns, ref = kube.namespace(ing), kube.ref(ing)
    spec = ing.get("spec") or {}
    out: list[BackendRef] = []
    for i, rule in enumerate(spec.get("rules") or []):
        host = (rule.get("host") or "",) if rule.get("host") else ()
        for j, p in enumerate(((rule.get("http") or {}).get("paths")) or []):
            svc = (p.get("backend") or {}).get("service")
            if not svc:
                continue
            path = f"{p.get('path') or '/'} ({p.get('pathType') or 'ImplementationSpecific'})"
            out.append(BackendRef(ing, ref, ns, str(svc.get("name") or ""), _ingress_port(svc),
                                  f"/spec/rules/{i}/http/paths/{j}/backend/service", host, path))
    svc = (spec.get("defaultBackend") or {}).get("service")
    if svc:
        out.append(BackendRef(ing, ref, ns, str(svc.get("name") or ""), _ingress_port(svc),
                              "/spec/defaultBackend/service", default=True))
    return out


def _ingress_port(svc: Obj) -> int | str | None:
    port = svc.get("port") or {}
    if port.get("name"):
        return str(port["name"])
    return port.get("number") if isinstance(port.get("number"), int) else None


def route_backends(route: Obj) -> list[BackendRef]:
    """Every backendRef of a route's rules (filters' mirror targets are not traffic paths)."""
    ns, ref = kube.namespace(route), kube.ref(route)
    spec = route.get("spec") or {}
    hosts = tuple(str(h) for h in spec.get("hostnames") or [])
    out = []
    for i, rule in enumerate(spec.get("rules") or []):
        path = _route_path(rule) if route.get("kind") == "HTTPRoute" else ""
        for j, b in enumerate(rule.get("backendRefs") or []):
            port = b.get("port")
            out.append(BackendRef(route, ref, str(b.get("namespace") or ns), str(b.get("name") or ""),
                                  port if isinstance(port, int) else None,
                                  f"/spec/rules/{i}/backendRefs/{j}", hosts, path,
                                  kind=str(b.get("kind") or "Service"),
                                  group=str(b.get("group") or "")))
    return out


def _route_path(rule: Obj) -> str:
    matches = rule.get("matches") or [{}]
    paths = []
    for m in matches:
        p = m.get("path") or {}
        paths.append(f"{p.get('value') or '/'} ({p.get('type') or 'PathPrefix'})")
    return ", ".join(dict.fromkeys(paths))


def backends(obj: Obj) -> list[BackendRef]:
    return ingress_backends(obj) if obj.get("kind") == "Ingress" else route_backends(obj)


def is_service_ref(ref: BackendRef) -> bool:
    return ref.kind == "Service" and ref.group in ("", "core")


def ingress_port_matches(svc_port: Obj, backend_port: int | str, *, nginx: bool) -> bool:
    """Does this Service port serve an Ingress backend port?

    Every controller matches the Service ``port`` number or the port ``name``. ingress-nginx
    also accepts the targetPort written as a string (``servicePort.TargetPort.String() ==
    backendPort``, controller/store upstream matching), so ``number: 8080`` reaches a port
    whose targetPort is 8080 there and nowhere else."""
    wanted = str(backend_port)
    if isinstance(backend_port, int) and svc_port.get("port") == backend_port:
        return True
    if isinstance(backend_port, str) and svc_port.get("name") == backend_port:
        return True
    return nginx and str(kube.target_port(svc_port)) == wanted


def service_port_for(svc: Obj, ref: BackendRef, *, nginx: bool = False) -> Obj | None:
    """The Service port a backend reference reaches (routes: the port number only)."""
    if ref.port is None:
        return None
    for p in kube.service_ports(svc):
        if ref.owner.get("kind") == "Ingress":
            if ingress_port_matches(p, ref.port, nginx=nginx):
                return p
        elif p.get("port") == ref.port:
            return p
    return None


def references(obj: Obj, namespace: str, name: str) -> list[BackendRef]:
    """The backend references of ``obj`` that name the Service namespace/name."""
    return [r for r in backends(obj)
            if is_service_ref(r) and r.namespace == namespace and r.name == name]


def fronts(items: list[Obj]) -> Iterator[Obj]:
    for o in items:
        if o.get("kind") == "Ingress" or (o.get("kind", "").endswith("Route")
                                          and str(o.get("apiVersion", "")).startswith(GATEWAY_GROUP)):
            yield o


def suggested_port(svc: Obj, ref: BackendRef) -> Obj | None:
    """The Service port a wrong backend port was most likely meant for: the one whose
    targetPort or name is what was written, else the only port there is."""
    ports = kube.service_ports(svc)
    for p in ports:
        if str(kube.target_port(p)) == str(ref.port) or (p.get("name") and p.get("name") == str(ref.port)):
            return p
    return ports[0] if len(ports) == 1 else None


def port_value(ref: BackendRef, svc_port: Obj) -> Any:
    """What to write into the reference so it reaches ``svc_port``."""
    if ref.owner.get("kind") == "Ingress":
        return {"name": svc_port["name"]} if svc_port.get("name") else {"number": svc_port.get("port")}
    return svc_port.get("port")
