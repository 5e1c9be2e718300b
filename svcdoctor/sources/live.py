"""The live cluster source: a handful of targeted, concurrent reads through the official client.

At most 8 API requests per diagnosis whatever the cluster size (pagination aside):

    phase 1 (concurrent)  GET the Service; LIST EndpointSlices by service-name label;
                          LIST pods in the namespace; LIST events in the namespace;
                          LIST nodes; LIST pods in kube-system (kube-proxy, LB controllers)
    phase 2 (only if needed, concurrent)
                          LIST pods matching the selector in all namespaces (when none
                          match at home); GET the legacy Endpoints (when no slice exists);
                          the lists plugins plan from phase 1 (``plan_reads``: MetalLB's
                          CRDs for a LoadBalancer Service, at most two)

Read-only: only GET/LIST, never Secrets. A 403 on anything but the Service becomes a
:class:`Gap` ("could not verify"), never an absence. Connection failures, TLS and auth
errors become one :class:`ClusterError` line. 429 and 5xx are retried with backoff.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from .. import kube
from ..errors import ClusterError, NotFoundError, SvcdoctorError
from ..evidence import Evidence, Gap
from ..kube import Obj
from ..target import Target
from ..similar import suggestion
from . import build_evidence, conform, services_there

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
RETRIES = 3           # for 429 / 5xx
MAX_BACKOFF = 4.0     # seconds, also caps Retry-After
PAGE = 500
MAX_PAGES = 400       # 200,000 objects of one kind: a bound against a server that never ends
PLAN_ROUNDS = 4     # plan_reads rounds: each may depend on the previous one's answers
SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class Forbidden(Exception):
    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what, self.message = what, message


class Missing(Exception):
    pass


class _HTTPError(Exception):
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.headers, self.body = status, headers, body


@dataclass
class Client:
    """Raw JSON over the official client's ApiClient: objects exactly as the server sends them."""

    api: Any
    host: str
    read_timeout: float = READ_TIMEOUT
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, path: str, what: str, **query: str) -> Obj:
        url = path + ("?" + urlencode(query) if query else "")
        delay = 0.5
        for attempt in range(RETRIES + 1):
            with self.lock:
                self.requests += 1
            try:
                status, headers, data = self._raw_get(url)
            except Exception as transport_exc:  # connection, TLS, timeout: translated below
                exc: Exception = transport_exc
            else:
                if status < 400:
                    return _object(data, self.host, what)
                exc = _HTTPError(status, headers, data)
            if getattr(exc, "status", None) in (429, 500, 502, 503, 504) and attempt < RETRIES:
                retry_after = (getattr(exc, "headers", None) or {}).get("Retry-After")
                wait = min(float(retry_after) if retry_after and str(retry_after).isdigit()
                           else delay, MAX_BACKOFF)
                time.sleep(wait)
                delay *= 2
                continue
            raise self._translate(exc, what) from exc
        raise AssertionError("unreachable")

    def _raw_get(self, url: str) -> tuple[int, Any, bytes]:
        """One GET through the official client, whichever generation of it is installed."""
        headers = {"Accept": "application/json"}
        timeout = (min(CONNECT_TIMEOUT, self.read_timeout), self.read_timeout)
        if hasattr(self.api, "param_serialize"):  # kubernetes >= 35 (new generator)
            method, full, hdrs, _, _ = self.api.param_serialize(
                "GET", url, header_params=headers, auth_settings=["BearerToken"])
            resp = self.api.call_api(method, full, header_params=hdrs, _request_timeout=timeout)
            return resp.status, resp.headers, resp.read()
        from kubernetes.client.exceptions import ApiException
        try:
            resp = self.api.call_api(url, "GET", header_params=headers, auth_settings=["BearerToken"],
                                     _preload_content=False, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status:
                return exc.status, exc.headers or {}, (exc.body or b"")
            raise
        return resp.status, resp.headers, resp.data

    def list(self, path: str, kind: str, what: str, prepare: Any = None, **query: str) -> list[Obj]:
        """Every page of a list. ``prepare(items)`` runs on each page's raw items before they
        are checked (a scan drops what no check reads there, so it is never walked)."""
        items: list[Obj] = []
        token = ""
        for _ in range(MAX_PAGES):
            q = dict(query, limit=str(PAGE))
            if token:
                q["continue"] = token
            body = self.get(path, what, **q)
            api_version = body.get("apiVersion", "v1")
            page = body.get("items") or []
            if kind == "APIGroup" and isinstance(body.get("groups"), list):
                page = _api_groups(body["groups"])
            if not isinstance(page, list):
                raise ClusterError(f"the API server at {self.host} answered {what} with items that "
                                   "are not a list")
            # List items come without kind/apiVersion; put them back as kubectl does.
            page = [{"apiVersion": api_version, "kind": kind, **i} if isinstance(i, dict) else i for i in page]
            # Checked page by page: the raw page is dropped before the next one arrives.
            items += conform(prepare(page) if prepare else page, f"the API server's answer to {what}",
                             lambda i, n=len(items): f"items[{n + i}]")
            del page
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            token = meta.get("continue") if isinstance(meta.get("continue"), str) else ""
            if not token:
                return items
        raise ClusterError(f"the API server at {self.host} kept paginating {what} past "
                           f"{MAX_PAGES * PAGE} objects")

    def _translate(self, exc: Exception, what: str) -> Exception:
        status = getattr(exc, "status", None)
        reason = _api_message(exc)
        if status == 404:
            return Missing(reason)
        if status == 403:
            return Forbidden(what, f"403 Forbidden: {reason}")
        if status == 401:
            return ClusterError(f"the API server at {self.host} rejected the credentials "
                                "(401 Unauthorized): the token or certificate is expired or invalid")
        if status is not None and status != 0:
            return ClusterError(f"the API server at {self.host} answered {status} to {what}: {reason}")
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text or "SSL" in type(exc).__name__:
            return ClusterError(f"TLS verification of the API server at {self.host} failed "
                                "(certificate not trusted for this address); check the kubeconfig's "
                                "certificate-authority")
        if "timed out" in text.lower() or "Timeout" in type(exc).__name__:
            return ClusterError(f"the API server at {self.host} did not answer {what} within "
                                f"{self.read_timeout:g}s")
        if "refused" in text.lower():
            return ClusterError(f"cannot reach the API server at {self.host}: connection refused")
        return ClusterError(f"cannot reach the API server at {self.host}: {_short(text)}")


def _api_groups(groups: list[Any]) -> list[Obj]:
    """Discovery's groups as objects (named in metadata, like every object svcdoctor keeps);
    only the names and versions: nothing else there is needed."""
    return [{"metadata": {"name": g.get("name")}, "name": g.get("name"), "versions": g.get("versions"),
             "preferredVersion": g.get("preferredVersion")} for g in groups if isinstance(g, dict)]


def _object(data: bytes, host: str, what: str) -> Obj:
    """A JSON object from a 2xx answer; a proxy's HTML page or a list is not one."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ClusterError(f"the API server at {host} answered {what} with something that is not "
                           "a Kubernetes object (a proxy in the way?)")
    return body


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    try:
        return json.loads(body)["message"]
    except Exception:
        return getattr(exc, "reason", None) or _short(str(exc))


def _short(text: str) -> str:
    return text.strip().splitlines()[-1][:300] if text.strip() else "unknown error"


def connect(context: str | None = None, kubeconfig: str | None = None,
            timeout: float | None = None) -> tuple[Client, str]:
    """A client and the default namespace, from kubeconfig or the in-cluster service account."""
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    from . import kubeconfig as kubeconfig_files

    try:
        if kubeconfig or context or os.environ.get("KUBECONFIG") or not os.environ.get("KUBERNETES_SERVICE_HOST"):
            kubeconfig_files.check(kubeconfig, context)
            cfg = k8s_client.Configuration()
            k8s_config.load_kube_config(config_file=kubeconfig, context=context,
                                        client_configuration=cfg, persist_config=False)
            _, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
            if context:
                contexts, _ = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
                active = next((c for c in contexts if c["name"] == context), active)
            namespace = (active or {}).get("context", {}).get("namespace") or "default"
        else:
            cfg = k8s_client.Configuration()
            k8s_config.load_incluster_config(client_configuration=cfg)
            with open(SA_NAMESPACE_FILE, encoding="utf-8") as fh:
                namespace = fh.read().strip() or "default"
    except SvcdoctorError:
        raise
    except Exception as exc:  # noqa: BLE001 - the client's config loader raises anything
        # What the client raises for a kubeconfig that passed our own reading (a missing
        # certificate file, an exec plugin that fails...): its words, on one line.
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterError(f"cannot load the cluster configuration from {where}: {_short(str(exc))}") from exc
    cfg.retries = 0  # connection errors fail fast; our own loop retries 429/5xx
    return Client(k8s_client.ApiClient(cfg), cfg.host, timeout or READ_TIMEOUT), namespace


def evidence_from_cluster(name: str, namespace: str | None, *, context: str | None = None,
                          kubeconfig: str | None = None, timeout: float | None = None,
                          registry: Any = None, clients: list[dict[str, str]] | None = None) -> Evidence:
    client, default_ns = connect(context, kubeconfig, timeout)
    target = Target(namespace or default_ns, name)
    named = [{**c, "namespace": c.get("namespace") or target.namespace} if "cidr" not in c else c
             for c in clients or []]
    return collect(client, target, source_host=client.host, registry=registry, clients=named)


def _plugin_reads(registry: Any, evidence: Evidence) -> list[tuple[str, str, str]]:
    """(kind, path, what) reads the plugins ask for; only plain GET/LIST paths, no Secrets."""
    reads: list[tuple[str, str, str]] = []
    if registry is None:
        return reads

    def read(kind: str, path: str, what: str) -> None:
        if not (path == "/apis" or path.startswith(("/api/", "/apis/"))) or "secrets" in path.split("?")[0].split("/"):
            raise ClusterError(f"a plugin asked to read {path!r}; svcdoctor only lists API objects, "
                               "never Secrets")
        reads.append((kind, path, what))

    registry.pm.hook.plan_reads(evidence=evidence, read=read)
    return reads


class _Inline:
    """An executor that runs each task at once: for a client whose reads are answered from
    memory (a scan's ScopeClient), where threads would only add their cost."""

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # raised again by result(), as a thread's would be
            fut.set_exception(exc)
        return fut

    def __enter__(self) -> "_Inline":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _pool(client: Any) -> Any:
    return _Inline() if getattr(client, "in_memory", False) else ThreadPoolExecutor(max_workers=6)


def collect(client: Client, target: Target, source_host: str = "", registry: Any = None,
            clients: list[dict[str, str]] | None = None) -> Evidence:
    ns, name = target.namespace, target.name
    qns = quote(ns, safe="")
    gaps: list[Gap] = []
    items: list[Obj] = []
    collected: set[str] = set()
    observed_at = datetime.now(timezone.utc)

    def service() -> Obj:
        obj = client.get(f"/api/v1/namespaces/{qns}/services/{quote(name, safe='')}",
                         f"get services in namespace {ns}")
        return conform([{"apiVersion": "v1", "kind": "Service", **obj}],
                       f"the API server's answer to get service {name}", lambda i: "")[0]

    def listing(path: str, kind: str, what: str, **query: str) -> tuple[str, list[Obj]]:
        return kind, client.list(path, kind, what, **query)

    reads = {
        "slices": (f"/apis/discovery.k8s.io/v1/namespaces/{qns}/endpointslices", "EndpointSlice",
                   f"list endpointslices in namespace {ns}",
                   {"labelSelector": f"kubernetes.io/service-name={name}"}),
        "pods": (f"/api/v1/namespaces/{qns}/pods", "Pod", f"list pods in namespace {ns}", {}),
        "events": (f"/api/v1/namespaces/{qns}/events", "Event", f"list events in namespace {ns}", {}),
        "nodes": ("/api/v1/nodes", "Node", "list nodes", {}),
        "system": ("/api/v1/namespaces/kube-system/pods", "Pod", "list pods in namespace kube-system", {}),
    }
    with _pool(client) as pool:
        svc_future = pool.submit(service)
        futures = {key: pool.submit(listing, path, kind, what, **query)
                   for key, (path, kind, what, query) in reads.items()}
        try:
            svc = svc_future.result()
        except Missing:
            for f in futures.values():
                f.cancel()
            raise _not_found(client, target) from None
        except Forbidden as exc:
            raise ClusterError(f"not allowed to read Service {target} ({exc.message}); "
                               "svcdoctor needs the read-only role in deploy/rbac.yaml") from None
        items.append(svc)
        collected.add("Service")
        results: dict[str, list[Obj]] = {}
        for key, fut in futures.items():
            kind = reads[key][1]
            try:
                _, objs = fut.result()
                results[key] = objs
                items += objs
                if key != "system":
                    collected.add(kind)
            except Forbidden as exc:
                gaps.append(Gap(exc.what, exc.message, kind if key != "system" else ""))
            except Missing as exc:  # namespace vanished mid-flight, or an API group is absent
                gaps.append(Gap(reads[key][2], f"404 Not Found: {exc}", kind))

        absent: set[str] = set()
        # Phase 2: only what phase 1 showed is needed.
        selector = kube.service_selector(svc)
        later = {}
        if selector and "pods" in results and not any(
                kube.selector_matches(selector, kube.labels(p)) for p in results["pods"]):
            later["elsewhere"] = pool.submit(
                listing, "/api/v1/pods", "Pod", "list pods in all namespaces",
                labelSelector=kube.format_selector(selector))
        if not results.get("slices"):
            later["endpoints"] = pool.submit(
                lambda: ("Endpoints", conform([{"apiVersion": "v1", "kind": "Endpoints", **client.get(
                    f"/api/v1/namespaces/{qns}/endpoints/{quote(name, safe='')}",
                    f"get endpoints in namespace {ns}")}], "the API server's answer to get endpoints",
                    lambda i: "")))
        for key, fut in later.items():
            try:
                kind, objs = fut.result()
                items += [o for o in objs if key != "elsewhere" or kube.namespace(o) != ns]
                collected.add(kind)
            except Forbidden as exc:
                gaps.append(Gap(exc.what, exc.message, "" if key == "elsewhere" else "Endpoints"))
            except Missing:
                collected.add("Endpoints")  # looked, and there is none
        service_namespaces, evidence = _planned_rounds(client, pool, registry, target, items, collected,
                                                       gaps, absent, observed_at, clients or [])
    # The planning rounds' evidence is the diagnosis' own: what they derived stays (the
    # index, the selected pods...); the L7 references are looked at again with the source set.
    evidence.source = f"cluster {source_host or client.host} ({client.requests} API requests)"
    evidence.__dict__.pop("l7_refs", None)
    evidence.clients = list(clients or [])
    evidence.absent = absent
    evidence.service_namespaces = service_namespaces
    return evidence


def _planned_rounds(client: Client, pool: Any, registry: Any, target: Target,
                    items: list[Obj], collected: set[str], gaps: list[Gap], absent: set[str],
                    observed_at: datetime, clients: list[dict[str, str]] = ()) -> tuple[set[str], Evidence]:
    """Plugins plan their reads from what the reads so far showed, round after round (each
    round's answers may call for the next), until none asks for a path not yet read.
    Extends ``items``, ``collected``, ``gaps`` and ``absent``; returns the namespaces
    whose Services were listed in full, and the evidence grown so far (of ``items``)."""
    service_namespaces: set[str] = set()
    done_paths: set[str] = set()
    # One evidence, grown round by round (rebuilding it each round cost a scan dearly); it
    # shares ``items``, ``collected``, ``gaps`` and ``absent`` with the caller.
    so_far = build_evidence(items, target, collected=collected, observed_at=observed_at,
                            source="cluster", gaps=gaps)
    so_far.collected, so_far.gaps, so_far.items = collected, gaps, items
    so_far.absent, so_far.service_namespaces = absent, service_namespaces
    so_far.clients = list(clients)
    for _ in range(PLAN_ROUNDS):
        planned = [r for r in _plugin_reads(registry, so_far) if r[1] not in done_paths]
        if not planned:
            break
        running = []
        for kind, path, what in planned:
            done_paths.add(path)
            base, _, qs = path.partition("?")
            running.append((kind, base, qs, pool.submit(client.list, base, kind, what, **dict(parse_qsl(qs)))))
        for kind, base, qs, fut in running:
            try:
                objs = fut.result()
            except Forbidden as exc:
                # A filtered list (a label or field selector) that fails leaves the kind
                # itself known; only a full list's failure makes it unverifiable.
                gaps.append(Gap(exc.what, exc.message, "" if "Selector=" in qs else kind))
                continue
            except Missing:
                absent.add(kind)  # that API is not installed in this cluster
                continue
            # Only an object of the same kind can be one already read; keyed with the
            # group too: Calico's kind is also "NetworkPolicy".
            have = {(o.get("apiVersion"), o.get("kind"), kube.namespace(o), kube.name(o))
                    for k in {o.get("kind") for o in objs} for o in so_far.of_kind(k)}
            new = []
            for o in objs:
                key = (o.get("apiVersion"), o.get("kind"), kube.namespace(o), kube.name(o))
                if key not in have:
                    have.add(key)
                    new.append(o)
            so_far.extend(new)
            collected.add(kind)
            if kind == "Service" and base.startswith("/api/v1/namespaces/"):
                service_namespaces.add(unquote(base.split("/")[4]))
    return service_namespaces, so_far


def front_from_cluster(target: Target, *, context: str | None = None, kubeconfig: str | None = None,
                       timeout: float | None = None, registry: Any = None) -> Evidence:
    """Evidence for an L7 target: the Ingress or route (GET), or for a URL every Ingress,
    HTTPRoute and GRPCRoute (LIST, all namespaces), then what the plugins plan from them."""
    from ..l7 import GATEWAY_GROUP, ROUTE_KINDS

    client, default_ns = connect(context, kubeconfig, timeout)
    if target.kind != "URL" and not target.namespace:
        target = Target(default_ns, target.name, target.kind)
    items: list[Obj] = []
    collected: set[str] = set()
    gaps: list[Gap] = []
    absent: set[str] = set()
    observed_at = datetime.now(timezone.utc)
    ns = target.namespace
    with ThreadPoolExecutor(max_workers=6) as pool:
        if target.kind == "URL":
            lists = {"Ingress": "/apis/networking.k8s.io/v1/ingresses",
                     **{k: f"/apis/{GATEWAY_GROUP}/v1/{ROUTE_KINDS[k]}" for k in ("HTTPRoute", "GRPCRoute")}}
            futures = {k: pool.submit(client.list, path, k, f"list {k}s in all namespaces")
                       for k, path in lists.items()}
            for kind, fut in futures.items():
                try:
                    items += fut.result()
                    collected.add(kind)
                except Forbidden as exc:
                    gaps.append(Gap(exc.what, exc.message, kind))
                except Missing:
                    absent.add(kind)
        else:
            group = "networking.k8s.io" if target.kind == "Ingress" else GATEWAY_GROUP
            plural = "ingresses" if target.kind == "Ingress" else ROUTE_KINDS[target.kind]
            path = f"/apis/{group}/v1/namespaces/{quote(ns, safe='')}/{plural}"
            what = f"get {plural} in namespace {ns}"
            try:
                obj = client.get(f"{path}/{quote(target.name, safe='')}", what)
            except Missing:
                raise _front_not_found(client, target, path) from None
            except Forbidden as exc:
                raise ClusterError(f"not allowed to read {target} ({exc.message}); svcdoctor needs "
                                   "the read-only role in deploy/rbac.yaml") from None
            items += conform([{"apiVersion": f"{group}/v1", "kind": target.kind, **obj}],
                             f"the API server's answer to {what}", lambda i: "")
            collected.add(target.kind)
        service_namespaces, _ = _planned_rounds(client, pool, registry, target, items, collected,
                                                gaps, absent, observed_at)
    evidence = build_evidence(items, target, collected=collected, observed_at=observed_at,
                              source=f"cluster {client.host} ({client.requests} API requests)", gaps=gaps)
    evidence.absent = absent
    evidence.service_namespaces = service_namespaces
    return evidence


def _front_not_found(client: Client, target: Target, path: str) -> Exception:
    try:
        names = [kube.name(o) for o in client.list(path, target.kind, f"list {target.kind}s")]
    except (Forbidden, Missing) as exc:
        if isinstance(exc, Missing) and target.kind != "Ingress":
            return NotFoundError(f"{target.kind} {target.name!r} not found: the Gateway API "
                                 f"({target.kind}) is not installed in this cluster")
        names = []
    hint = suggestion(target.name, names) or services_there(names, kind=target.kind)
    return NotFoundError(f"{target.kind} {target.name!r} not found in namespace {target.namespace!r}{hint}")


def _not_found(client: Client, target: Target) -> Exception:
    """Say whether the namespace or the Service is missing, with close names."""
    ns = target.namespace
    try:
        services = client.list(f"/api/v1/namespaces/{quote(ns, safe='')}/services", "Service",
                               f"list services in namespace {ns}")
    except (Forbidden, Missing):
        services = []
    if not services:
        try:
            client.get(f"/api/v1/namespaces/{quote(ns, safe='')}", f"get namespace {ns}")
        except Missing:
            try:
                names = [kube.name(n) for n in client.list("/api/v1/namespaces", "Namespace",
                                                           "list namespaces")]
            except (Forbidden, Missing):
                names = []
            return NotFoundError(f"namespace {ns!r} not found" + suggestion(ns, names))
        except Forbidden:
            pass
    here = [kube.name(s) for s in services]
    hint = suggestion(target.name, here) or services_there(here)
    return NotFoundError(f"Service {target.name!r} not found in namespace {ns!r}{hint}")
