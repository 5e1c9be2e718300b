"""A live scan's reads: each list once for the whole scope, every Service's reads answered
from those lists.

Every Service is collected by the very code ``diagnose`` uses
(:func:`svcdoctor.sources.live.collect`), given a :class:`ScopeClient` instead of the API
client. Each read it makes — ``GET services/web``, ``LIST pods in namespace shop``,
``LIST endpointslices?labelSelector=kubernetes.io/service-name=web``, a plugin's planned
list — is answered by filtering a wider list fetched once, exactly as the API server would
have filtered it (namespace, label selector, field selector, name), so each Service sees
the objects, gaps and kinds its own diagnosis would have seen.

How a read is widened (fetched at most once each, on first need, concurrently for the
first lists of the scope):

    namespaced list, -A         the cluster-wide list; if that is forbidden, the list in
                                that namespace (so the 403 says what diagnose's would)
    namespaced list, -n NS      the full list in that namespace (any query dropped)
    cluster-wide list + query   as asked, for up to 3 different queries of one list; from
                                the 4th on (a selector per Service), the full list

So the requests are constant in the number of Services: one per list the scope's
diagnoses need (pages aside), at most 4 per filtered cluster-wide list, plus one per
namespace where a cluster-wide list is forbidden.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future
from typing import Callable
from urllib.parse import parse_qsl, unquote, urlencode

from .. import kube
from ..errors import SvcdoctorError
from ..kube import Obj
from ..selectors import field_test, label_test
from ..sources.live import Client, Forbidden, Missing

_NAMESPACED = re.compile(r"^(/api/v1|/apis/[^/]+/[^/]+)/namespaces/([^/]+)/([^/?]+)$")
FILTERED_READS = 3  # distinct queries of one cluster-wide list before reading it whole
# Nothing a check reads, and a large share of every object: dropped as lists arrive.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def slim(objs: list[Obj]) -> list[Obj]:
    """Drop managedFields (but the Services': MetalLB's check dates their status updates)
    and kubectl's last-applied copy of the object, in place."""
    for o in objs:
        meta = o.get("metadata") if isinstance(o, dict) else None
        if not isinstance(meta, dict):
            continue
        if o.get("kind") != "Service":
            meta.pop("managedFields", None)
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            ann.pop(LAST_APPLIED, None)
    return objs


class ScopeClient:
    """Quacks like :class:`svcdoctor.sources.live.Client` for ``collect``; see the module."""

    in_memory = True  # collect() runs its reads inline: they are answered from lists in memory

    def __init__(self, client: Client, all_namespaces: bool, namespace: str | None = None,
                 on_fetch: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.host = client.host
        self.all_namespaces = all_namespaces
        self.namespace = namespace
        self.on_fetch = on_fetch
        self._lock = threading.Lock()
        self._fetched: dict[str, Future] = {}     # fetched path → Future of its objects
        self._answers: dict[str, list[Obj] | BaseException] = {}
        self._queries: dict[str, set[str]] = {}   # cluster-wide base → queries fetched as asked

    @property
    def requests(self) -> int:
        return self.client.requests

    # --- what collect() calls -------------------------------------------------------

    def get(self, path: str, what: str, **query: str) -> Obj:
        parent, _, name = path.rpartition("/")
        m = _NAMESPACED.match(parent)
        if not m:
            raise SvcdoctorError(f"a scan cannot answer GET {path}")
        for obj in self.list(parent, m.group(3), what):
            if kube.name(obj) == unquote(name):
                return obj
        raise Missing(f'{m.group(3)} "{unquote(name)}" not found')

    def list(self, path: str, kind: str, what: str, **query: str) -> list[Obj]:
        full = path + ("?" + urlencode(query) if query else "")
        with self._lock:
            answer = self._answers.get(full)
        if answer is None:
            answer = self._answer(full, kind, what)
            with self._lock:
                self._answers[full] = answer
        if isinstance(answer, Forbidden):
            raise Forbidden(what, answer.message)
        if isinstance(answer, BaseException):
            # A fresh exception each time: re-raising the cached one would chain every
            # Service's frames (and their evidence) onto its traceback for the whole scan.
            raise type(answer)(*answer.args)
        return answer

    # --- fetching -------------------------------------------------------------------

    def prefetch(self, reads: list[tuple[str, str]]) -> None:
        """Start (kind, path) fetches now, concurrently, so later answers need not wait."""
        for kind, path in reads:
            self._fetch(path, kind, f"list {path}", start_only=True)

    def _answer(self, path: str, kind: str, what: str) -> list[Obj] | BaseException:
        base, _, qs = path.partition("?")
        m = _NAMESPACED.match(base)
        try:
            if m:
                prefix, ns, plural = m.groups()
                ns = unquote(ns)
                if self.all_namespaces:
                    try:
                        return _filter(self._result(f"{prefix}/{plural}", kind, what), ns, qs)
                    except Forbidden:
                        pass  # allowed in some namespaces, perhaps: ask this one
                return _filter(self._result(base, kind, what), None, qs)
            whole = self._peek(base)
            if not qs or whole is not None:
                return _filter(whole if whole is not None else self._result(base, kind, what), None, qs)
            with self._lock:
                asked = self._queries.setdefault(base, set())
                as_asked = qs in asked or len(asked) < FILTERED_READS
                asked.add(qs)
            if as_asked:
                return _filter(self._result(path, kind, what), None, "")
            return _filter(self._result(base, kind, what), None, qs)
        except (Forbidden, Missing, SvcdoctorError) as exc:
            return exc

    def _peek(self, path: str) -> list[Obj] | None:
        """The full list at ``path`` if it has already arrived."""
        with self._lock:
            fut = self._fetched.get(path)
        if fut is None or not fut.done() or fut.exception() is not None:
            return None
        return fut.result()

    def _result(self, path: str, kind: str, what: str) -> list[Obj]:
        """The objects at ``path`` (fetched once; a failure is raised to every asker)."""
        return self._fetch(path, kind, what).result()

    def _fetch(self, path: str, kind: str, what: str, start_only: bool = False) -> Future:
        with self._lock:
            fut = self._fetched.get(path)
            if fut is not None:
                return fut
            fut = Future()
            self._fetched[path] = fut
        if start_only:
            threading.Thread(target=self._run, args=(fut, path, kind, what), daemon=True).start()
        else:
            self._run(fut, path, kind, what)
        return fut

    def _run(self, fut: Future, path: str, kind: str, what: str) -> None:
        base, _, qs = path.partition("?")
        if self.on_fetch:
            self.on_fetch(path)
        try:
            fut.set_result(self.client.list(base, kind, what, prepare=slim, **dict(parse_qsl(qs))))
        except BaseException as exc:  # every asker gets it; KeyboardInterrupt stops the scan
            fut.set_exception(exc)

    def fetched(self) -> list[str]:
        with self._lock:
            return sorted(self._fetched)


def _filter(objs: list[Obj], namespace: str | None, query: str) -> list[Obj]:
    """What the API server returns for ``?query`` (and the namespace) from the full list."""
    tests: list[Callable[[Obj], bool]] = []
    if namespace is not None:
        tests.append(lambda o: kube.namespace(o) == namespace)
    for key, value in parse_qsl(query):
        if key == "labelSelector":
            tests.append(label_test(value))
        elif key == "fieldSelector":
            tests.append(field_test(value))
    if not tests:
        return objs
    return [o for o in objs if all(t(o) for t in tests)]


def scope_lists(all_namespaces: bool, namespace: str | None) -> list[tuple[str, str]]:
    """(kind, path) of the lists every Service of the scope reads first (README, "scan")."""
    if all_namespaces:
        return [("Service", "/api/v1/services"), ("EndpointSlice", "/apis/discovery.k8s.io/v1/endpointslices"),
                ("Pod", "/api/v1/pods"), ("Event", "/api/v1/events"), ("Node", "/api/v1/nodes")]
    from urllib.parse import quote

    q = quote(namespace or "", safe="")
    reads = [("Service", f"/api/v1/namespaces/{q}/services"),
             ("EndpointSlice", f"/apis/discovery.k8s.io/v1/namespaces/{q}/endpointslices"),
             ("Pod", f"/api/v1/namespaces/{q}/pods"), ("Event", f"/api/v1/namespaces/{q}/events"),
             ("Node", "/api/v1/nodes")]
    if namespace != "kube-system":
        reads.append(("Pod", "/api/v1/namespaces/kube-system/pods"))
    return reads

