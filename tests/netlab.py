"""A real network lab for tests: a private network namespace with "nodes" on loopback,
HTTP backends, NodePort forwarders, kube-proxy health check servers, a DNS server and
iptables rules that make connections time out, be refused or find no route.

Inside a netns all of 127.0.0.0/8 is local on ``lo``, so nodes are just 127.0.0.11,
127.0.0.12, ... and nothing in the lab can reach anything outside it (the namespace has
no other interface: any other destination fails with ENETUNREACH, no packet leaves).

Usage::

    with NetLab() as lab:
        lab.backend("127.0.0.101", 8080)
        lab.nodeport("127.0.0.11", 30080, backend=("127.0.0.101", 8080))
        lab.drop("127.0.0.12", 30080)                # timeout
        lab.dns({"lb-1.elb.example.test": ["127.0.0.11"]})
        with lab.inside():                           # this thread now lives in the lab
            httpx.get("http://127.0.0.11:30080/")
        lab.run(["python3", "-c", "..."])            # resolv.conf -> lab DNS

A session fixture that puts the control plane (and the test thread) in the lab::

    @pytest.fixture(scope="session")
    def lab_cp():
        with NetLab() as lab, lab.inside(), controlplane.ControlPlane() as cp:
            yield lab, cp   # etcd, apiserver, KCM, scheduler, kwok and the client: all in the lab

(``with`` exits in reverse order: control plane stopped, thread back out, lab deleted.)
Threads started by a thread inside the lab are born inside it; ``lab.outside()`` steps
back out to the namespace the lab was created from (to check what the host sees).

Outcomes verified on this kernel (see tests/test_netlab_harness.py): ``drop`` -> connect
timeout; ``reject_host_prohibited`` -> EHOSTUNREACH (113); ``reject_reset`` and a port
with no listener -> ECONNREFUSED (111). Loopback packets traverse OUTPUT then INPUT; the
rules go in INPUT, which is where kube-proxy/firewalld filter too, and they take effect
for loopback destinations (checked, so OUTPUT is not needed).

Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN), ``ip`` (iproute2) and ``iptables``;
``NetLab.available()`` says whether this machine qualifies and why not.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVERS_SCRIPT = HERE / "netlab_servers.py"
NAME_PREFIX = "svcd-lab-"
NETNS_RUN_DIR = Path("/run/netns")
NETNS_ETC_DIR = Path("/etc/netns")
DNS_IP = "127.0.0.53"
CLONE_NEWNET = 0x40000000
# /run/svcdoctor-netlab/<name>: pid of the creating process. Not in /etc/netns/<name>/:
# `ip netns exec` tries to bind-mount every file there over /etc.
OWNER_DIR = Path("/run/svcdoctor-netlab")


class NetLabError(RuntimeError):
    """The lab could not be created, configured or queried."""


# --------------------------------------------------------------------------- setns


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.setns.restype = ctypes.c_int
    return libc


def _setns(fd: int) -> None:
    """Move the calling *thread* into the network namespace behind fd (Python 3.11 has
    no os.setns). Other threads keep theirs."""
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


def _thread_netns_path() -> str:
    # /proc/self is the thread-group leader; a non-main thread must look at its own task.
    return "/proc/thread-self/ns/net"


def _die_with_parent() -> None:
    """Child pre-exec: SIGKILL when the forking thread's process dies (PDEATHSIG survives
    the exec of ``ip netns exec`` -> python, since neither is setuid)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _preexec() -> Any:
    # PDEATHSIG fires when the forking *thread* exits, so only arm it from the main thread.
    return _die_with_parent if threading.current_thread() is threading.main_thread() else None


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Rule:
    """One iptables rule in the lab's filter table, as passed after ``-A``/``-D``."""

    chain: str
    spec: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join(("-A", self.chain, *self.spec))


@dataclass
class Listener:
    """A listener in the lab's server process; ``port`` is the bound port (useful with 0)."""

    id: int
    kind: str
    ip: str
    port: int
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}/"


_live: "weakref.WeakSet[NetLab]" = weakref.WeakSet()


@atexit.register
def _close_leftovers() -> None:
    for lab in list(_live):
        with contextlib.suppress(Exception):
            lab.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- the lab


class NetLab:
    """A private network namespace ``svcd-lab-<random>`` with lo up and a lab resolv.conf.

    Everything it starts (the listener process, ``popen`` children) is killed on
    ``close()``; the netns and ``/etc/netns/<name>`` are removed. Processes started by
    others inside the lab (e.g. a ControlPlane started after ``enter()``) are theirs to
    stop; stop them before closing the lab.
    """

    def __init__(self, name: str | None = None, *, command_timeout: float = 60.0) -> None:
        """Create the namespace now. ``command_timeout``: default timeout of ``run``."""
        self.name = name or f"{NAME_PREFIX}{uuid.uuid4().hex[:8]}"
        if len(self.name) > 64 or "/" in self.name or not self.name:
            raise ValueError(f"bad netns name {self.name!r}")
        self.command_timeout = command_timeout
        self.netns_path = NETNS_RUN_DIR / self.name
        self.etc_dir = NETNS_ETC_DIR / self.name
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.create_seconds: float | None = None
        self._closed = False
        self._lock = threading.RLock()
        self._server: subprocess.Popen[bytes] | None = None
        self._server_buf = b""
        self._children: list[subprocess.Popen[Any]] = []
        self._listeners: dict[int, Listener] = {}
        self._dns: Listener | None = None
        self._rules: list[Rule] = []
        self._tls = threading.local()  # per-thread stack of original-netns fds
        self._next_node = 10
        self._owns_netns = False
        # The creating thread's netns, for outside(): threads started by a thread that
        # entered the lab are born inside it, so "the host" needs an explicit handle.
        self._host_fd: int | None = os.open(_thread_netns_path(), os.O_RDONLY | os.O_CLOEXEC)
        t0 = time.monotonic()
        _live.add(self)
        try:
            self.cleanup_stale()
            OWNER_DIR.mkdir(parents=True, exist_ok=True)
            if self.netns_path.exists():
                raise NetLabError(f"network namespace {self.name} already exists")
            self._ip("netns", "add", self.name)
            self._owns_netns = True  # only now may close() delete it: the name could be taken
            (OWNER_DIR / self.name).write_text(f"{os.getpid()}\n")
            self._ip("-n", self.name, "link", "set", "lo", "up")
            self.etc_dir.mkdir(parents=True, exist_ok=True)
            # `ip netns exec` bind-mounts every file here over /etc/<file>: lab processes
            # resolve through the lab DNS server, never the host's resolver.
            (self.etc_dir / "resolv.conf").write_text(
                f"# svcdoctor network lab {self.name}\nnameserver {DNS_IP}\noptions timeout:2 attempts:2\n"
            )
        except BaseException:
            self.close()
            raise
        self.create_seconds = time.monotonic() - t0

    # ---- availability / hygiene

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def available() -> tuple[bool, str]:
        """(True, how) if labs work here, else (False, why): Linux, root, ``ip`` and
        ``iptables`` present, and a throwaway netns with an iptables rule really works
        (root in a container may still lack CAP_SYS_ADMIN or nf_tables)."""
        if not sys.platform.startswith("linux"):
            return False, f"network lab needs Linux (this is {sys.platform})"
        if os.geteuid() != 0:
            return False, "network lab needs root (ip netns, iptables, setns)"
        for tool, pkg in (("ip", "iproute2"), ("iptables", "iptables")):
            if shutil.which(tool) is None:
                return False, f"network lab needs `{tool}` (apt-get install {pkg})"
        if not os.path.exists(_thread_netns_path()):
            return False, "/proc/thread-self/ns/net missing (kernel < 3.17 or /proc not mounted)"
        probe = f"{NAME_PREFIX}probe-{uuid.uuid4().hex[:8]}"
        added = False
        try:
            p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=20)
            if p.returncode != 0:
                return False, f"`ip netns add` failed: {p.stderr.strip() or p.returncode}"
            added = True
            cmd = ["ip", "netns", "exec", probe, "iptables", "-A", "INPUT", "-d", "127.0.0.2", "-j", "DROP"]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            if p.returncode != 0:
                return False, f"iptables inside a netns failed: {p.stderr.strip() or p.returncode}"
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"netns probe failed: {exc}"
        finally:
            if added:
                subprocess.run(["ip", "netns", "delete", probe], capture_output=True, timeout=20)
        return True, f"ip netns + {subprocess.run(['iptables', '--version'], capture_output=True, text=True).stdout.strip()}"

    @staticmethod
    def cleanup_stale() -> list[str]:
        """Delete labs left by a process that died without cleaning up (SIGKILL): only
        ``svcd-lab-*`` namespaces whose owner file names a dead pid. Returns their names."""
        removed: list[str] = []
        if not NETNS_RUN_DIR.is_dir():
            return removed
        for entry in sorted(NETNS_RUN_DIR.glob(f"{NAME_PREFIX}*"))[:200]:
            owner = OWNER_DIR / entry.name
            try:
                pid = int(owner.read_text().strip())
            except (OSError, ValueError):
                continue  # not ours, or being created right now
            if _pid_alive(pid):
                continue
            subprocess.run(["ip", "netns", "delete", entry.name], capture_output=True, timeout=20)
            shutil.rmtree(NETNS_ETC_DIR / entry.name, ignore_errors=True)
            owner.unlink(missing_ok=True)
            for workdir in list(Path(tempfile.gettempdir()).glob(f"{entry.name}-*"))[:10]:
                shutil.rmtree(workdir, ignore_errors=True)
            removed.append(entry.name)
        return removed

    # ---- lifecycle

    def __enter__(self) -> "NetLab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill what the lab started, delete the netns and /etc/netns/<name>. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # A thread still inside would keep the namespace alive (and be stranded).
            while getattr(self._tls, "stack", None):
                with contextlib.suppress(OSError):
                    self.leave()
            procs = [p for p in [self._server, *self._children] if p is not None]
            self._server, self._children = None, []
            for p in procs:
                if p.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        p.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(timeout=5)
                for stream in (p.stdin, p.stdout, p.stderr):
                    if stream is not None:
                        with contextlib.suppress(OSError):
                            stream.close()
            if self._owns_netns:
                subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=20)
                shutil.rmtree(self.etc_dir, ignore_errors=True)
                (OWNER_DIR / self.name).unlink(missing_ok=True)
            shutil.rmtree(self.workdir, ignore_errors=True)
            for parent in (OWNER_DIR, NETNS_ETC_DIR):  # leave no empty dirs; others' labs keep theirs
                with contextlib.suppress(OSError):
                    parent.rmdir()
            if self._host_fd is not None:
                os.close(self._host_fd)
                self._host_fd = None
            _live.discard(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def _need_open(self) -> None:
        if self._closed:
            raise NetLabError(f"lab {self.name} is closed")

    # ---- entering the namespace (this thread only)

    def enter(self) -> None:
        """Move the calling thread into the lab; nestable, undo with ``leave()``. Sockets
        and child processes created by this thread from now on live in the lab (sockets
        keep their namespace for life, even after leave())."""
        self._need_open()
        orig = os.open(_thread_netns_path(), os.O_RDONLY | os.O_CLOEXEC)
        try:
            lab = os.open(self.netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(lab)
            finally:
                os.close(lab)
        except BaseException:
            os.close(orig)
            raise
        self._tls.__dict__.setdefault("stack", []).append(orig)

    def leave(self) -> None:
        """Return the calling thread to the namespace it was in before the matching enter()."""
        stack: list[int] = getattr(self._tls, "stack", [])
        if not stack:
            raise NetLabError("leave() without enter() on this thread")
        orig = stack.pop()
        try:
            _setns(orig)
        finally:
            os.close(orig)

    @contextlib.contextmanager
    def inside(self) -> Iterator["NetLab"]:
        """``with lab.inside(): ...`` runs the block's thread in the lab."""
        self.enter()
        try:
            yield self
        finally:
            self.leave()

    @contextlib.contextmanager
    def outside(self) -> Iterator["NetLab"]:
        """``with lab.outside(): ...`` runs the block's thread in the netns the lab was
        created from (the host, usually), whatever namespace the thread is in now."""
        self._need_open()
        assert self._host_fd is not None
        current = os.open(_thread_netns_path(), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(self._host_fd)
            try:
                yield self
            finally:
                _setns(current)
        finally:
            os.close(current)

    def is_inside(self) -> bool:
        """Whether the calling thread is in the lab's namespace right now."""
        mine = os.stat(_thread_netns_path())
        lab = os.stat(self.netns_path)
        return (mine.st_dev, mine.st_ino) == (lab.st_dev, lab.st_ino)

    # ---- commands

    def _ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise NetLabError(f"ip {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def exec_args(self, args: Sequence[str]) -> list[str]:
        """The argv that runs ``args`` in the lab (with the lab resolv.conf)."""
        return ["ip", "netns", "exec", self.name, *map(str, args)]

    def run(self, args: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run a command inside the lab (``ip netns exec``, so resolv.conf applies);
        captures text output; timeout defaults to 60 s; extra kwargs go to subprocess.run."""
        self._need_open()
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", self.command_timeout)
        return subprocess.run(self.exec_args(args), **kw)

    def _exec_checked(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        p = self.run(args, timeout=30)
        if p.returncode != 0:
            raise NetLabError(f"{' '.join(args)} in {self.name} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def popen(self, args: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start a long-running command inside the lab; it is killed on close()."""
        self._need_open()
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("preexec_fn", _preexec())
        proc = subprocess.Popen(self.exec_args(args), **kw)
        with self._lock:
            self._children.append(proc)
        return proc

    def next_node_ip(self) -> str:
        """127.0.0.11, .12, ... (the ControlPlane's default node IPs too)."""
        with self._lock:
            self._next_node += 1
            return f"127.0.0.{self._next_node}"

    # ---- iptables (inside the lab only)

    def iptables(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run iptables (filter table unless args say otherwise) inside the lab."""
        self._need_open()
        return self._exec_checked(["iptables", "-w", "5", *args])

    def add_rule(self, chain: str, *spec: str) -> Rule:
        rule = Rule(chain, tuple(map(str, spec)))
        self.iptables("-A", chain, *rule.spec)
        with self._lock:
            self._rules.append(rule)
        return rule

    def delete_rule(self, rule: Rule) -> None:
        self.iptables("-D", rule.chain, *rule.spec)
        with self._lock:
            with contextlib.suppress(ValueError):
                self._rules.remove(rule)

    def drop(self, ip: str, port: int, proto: str = "tcp") -> Rule:
        """Silently drop packets to ip:port: the client's connect times out."""
        return self.add_rule("INPUT", "-d", ip, "-p", proto, "--dport", str(port), "-j", "DROP")

    def reject_host_prohibited(self, ip: str, port: int, proto: str = "tcp") -> Rule:
        """ICMP host-prohibited (firewalld style): the client sees EHOSTUNREACH."""
        return self.add_rule(
            "INPUT", "-d", ip, "-p", proto, "--dport", str(port),
            "-j", "REJECT", "--reject-with", "icmp-host-prohibited",
        )

    def reject_reset(self, ip: str, port: int) -> Rule:
        """TCP RST: the client sees ECONNREFUSED even if something listens there."""
        return self.add_rule(
            "INPUT", "-d", ip, "-p", "tcp", "--dport", str(port), "-j", "REJECT", "--reject-with", "tcp-reset"
        )

    def rules(self) -> list[Rule]:
        """Rules added through this lab and not deleted or flushed."""
        with self._lock:
            return list(self._rules)

    def flush(self) -> None:
        """Remove every filter rule in the lab."""
        self.iptables("-F")
        with self._lock:
            self._rules.clear()

    # ---- listeners (one server process for all)

    def _ensure_server(self) -> subprocess.Popen[bytes]:
        if self._server is not None and self._server.poll() is None:
            return self._server
        if self._server is not None:
            raise NetLabError(f"listener process exited ({self._server.returncode}):\n{self.server_log()}")
        log = open(self.workdir / "servers.log", "wb")
        try:
            # -u: replies must not sit in a buffer. stdin is the control channel; its EOF
            # (our death) makes the process exit even without PDEATHSIG.
            proc = subprocess.Popen(
                self.exec_args([sys.executable, "-u", str(SERVERS_SCRIPT)]),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.workdir,
                preexec_fn=_preexec(),
            )
        finally:
            log.close()
        self._server, self._server_buf = proc, b""
        try:
            line = self._read_line(proc, timeout=30)
        except NetLabError:
            proc.kill()
            proc.wait(timeout=5)
            raise
        if line != "ready":
            proc.kill()
            proc.wait(timeout=5)
            raise NetLabError(f"listener process said {line!r}:\n{self.server_log()}")
        return proc

    def _read_line(self, proc: subprocess.Popen[bytes], timeout: float) -> str:
        """One line from the server's stdout within timeout (bounded; no hang on a dead child)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._server_buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NetLabError(f"listener process silent for {timeout}s:\n{self.server_log()}")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise NetLabError(f"listener process exited ({proc.wait(timeout=5)}):\n{self.server_log()}")
                self._server_buf += chunk
        line, self._server_buf = self._server_buf.split(b"\n", 1)
        return line.decode().strip()

    def _request(self, cmd: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        with self._lock:
            self._need_open()
            proc = self._ensure_server()
            assert proc.stdin is not None
            try:
                proc.stdin.write((json.dumps(cmd) + "\n").encode())
                proc.stdin.flush()
            except BrokenPipeError:
                raise NetLabError(f"listener process gone:\n{self.server_log()}") from None
            reply = json.loads(self._read_line(proc, timeout))
        if not reply.get("ok"):
            raise NetLabError(f"{cmd.get('op')} {cmd.get('listener') or cmd.get('id')}: {reply.get('error')}")
        return reply

    def server_log(self) -> str:
        """The listener process's stderr so far."""
        try:
            return (self.workdir / "servers.log").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def _add(self, spec: dict[str, Any]) -> Listener:
        reply = self._request({"op": "add", "listener": spec})
        lst = Listener(reply["id"], spec["kind"], spec["ip"], reply["port"], dict(spec, port=reply["port"]))
        with self._lock:
            self._listeners[lst.id] = lst
        return lst

    def backend(self, ip: str, port: int = 0) -> Listener:
        """A "pod": HTTP 200 ``backend <ip>:<port>`` on any path (port 0 picks one)."""
        return self._add({"kind": "backend", "ip": ip, "port": port})

    def nodeport(self, node_ip: str, port: int, backend: tuple[str, int]) -> Listener:
        """kube-proxy NodePort stand-in: accepts on node_ip:port and splices bytes to the
        backend (a refused backend resets the client's connection)."""
        return self._add({"kind": "nodeport", "ip": node_ip, "port": port, "backend": list(backend)})

    def health_check(
        self,
        node_ip: str,
        port: int,
        *,
        namespace: str,
        name: str,
        local_endpoints: int,
        proxy_healthy: bool = True,
        old_format: bool = False,
    ) -> Listener:
        """kube-proxy's per-Service health check server on healthCheckNodePort (any path):
        200 iff local_endpoints != 0 and proxy healthy, else 503; JSON body and headers as
        in failure-modes.md §2.4. old_format: compact body, no serviceProxyHealthy, no
        weight header, and (as those versions did) 503 iff local_endpoints == 0."""
        return self._add({
            "kind": "health", "ip": node_ip, "port": port, "namespace": namespace, "name": name,
            "local_endpoints": local_endpoints, "proxy_healthy": proxy_healthy, "old_format": old_format,
        })

    def ingress(self, ip: str, hosts: Mapping[str, int], *, port: int = 80, server: str = "nginx",
                reject_tls: bool = False) -> Listener:
        """An Ingress controller's / Gateway's data plane on ip:port: the status given per
        Host header, the default backend's 404 for any other host; or, with reject_tls, a
        TLS listener refusing every handshake (netlab_servers)."""
        return self._add({"kind": "ingress", "ip": ip, "port": port, "hosts": dict(hosts), "server": server,
                          "reject_tls": reject_tls})

    def dns(self, records: Mapping[str, Sequence[str]], cnames: Mapping[str, str] | None = None) -> Listener:
        """The lab DNS server on 127.0.0.53:53 (UDP+TCP): A/AAAA from records, CNAME chains
        from cnames, NXDOMAIN for the rest. Calling it again replaces the data."""
        data = {"records": {k: list(v) for k, v in records.items()}, "cnames": dict(cnames or {})}
        with self._lock:
            if self._dns is not None:
                self.update(self._dns, **data)
                return self._dns
            self._dns = self._add({"kind": "dns", "ip": DNS_IP, "port": 53, **data})
            return self._dns

    def update(self, listener: Listener, **changes: Any) -> None:
        """Change a live listener: health (local_endpoints, proxy_healthy, old_format,
        namespace, name) or dns (records, cnames)."""
        self._request({"op": "update", "id": listener.id, "set": changes})
        listener.spec.update(changes)

    def remove(self, listener: Listener) -> None:
        """Stop a listener (its port then refuses)."""
        self._request({"op": "remove", "id": listener.id})
        with self._lock:
            self._listeners.pop(listener.id, None)
            if self._dns is listener:
                self._dns = None

    def listeners(self) -> list[Listener]:
        with self._lock:
            return list(self._listeners.values())

    def resolver(self, timeout: float = 2.0) -> Any:
        """A dnspython Resolver pointed at the lab DNS. Use it from a thread inside the
        lab: in-process resolvers read the *host's* /etc/resolv.conf."""
        import dns.resolver

        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [DNS_IP]
        r.timeout = r.lifetime = timeout
        return r

    def __repr__(self) -> str:
        return f"NetLab({self.name!r}{', closed' if self._closed else ''})"
