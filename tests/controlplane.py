"""A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (fake kubelets), no Docker.

Everything binds to 127.0.0.1 on free ports and lives in one temporary directory
(certificates, etcd data, logs, kubeconfigs, audit log); only the binaries are cached
outside it (see ``scripts/build-control-plane.sh``). Plain Python, no pytest inside, so
fixtures and ``scripts/controlplane.py`` share it.

Test knobs, all genuine API state produced by kwok stages or by the controllers:

* pod label ``svcdoctor.test/ready: "false"``: the pod goes Running with Ready=False,
  ContainersReady=False and ``containerStatuses[].ready: false`` (also when added to a
  Running pod later). Setting the label to ``"true"`` makes such a pod Ready again.
* pod label ``svcdoctor.test/hold-terminating: "true"``: once deleted, the pod stays
  Terminating (kwok never issues the final delete). Remove the label to let it go.
  A finalizer (e.g. ``svcdoctor.test/hold``) also keeps a deleted pod Terminating:
  kwok's final delete (grace 0) leaves finalizers alone, so the pod stays with
  ``deletionGracePeriodSeconds: 0`` until the test removes the finalizer.
* pod label ``svcdoctor.test/kwok-ignore: "true"``: kwok leaves the pod's status
  alone entirely (it stays Pending with no IP unless the test writes status itself).
* node label ``svcdoctor.test/node-ready: "false"``: kwok, still heartbeating, reports
  the node Ready=False (reason KubeletNotReady). ``set_node_ready(..., how="condition")``.
* node label ``svcdoctor.test/heartbeat: "stopped"``: kwok stops managing the node (no
  lease renewals, no status, no pod updates), like a dead kubelet; after
  ``--node-monitor-grace-period`` the node-lifecycle controller sets the conditions to
  Unknown and marks the node's pods Ready=False. ``set_node_ready(..., how="heartbeat")``.

Pod IPs (10.244.x.y) and ClusterIPs (10.96.x.y) are fake: never dial them. Only
127.0.0.1 is real; nodes get loopback InternalIPs so probes can reach them.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-control-plane.sh"

# Keep in step with scripts/build-control-plane.sh, which names the cache directory.
K8S_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")

# Labels the harness's kwok stages (and kwok flags) key on.
POD_READY_LABEL = "svcdoctor.test/ready"
HOLD_TERMINATING_LABEL = "svcdoctor.test/hold-terminating"
HOLD_FINALIZER = "svcdoctor.test/hold"
KWOK_IGNORE_LABEL = "svcdoctor.test/kwok-ignore"
NODE_READY_LABEL = "svcdoctor.test/node-ready"
NODE_HEARTBEAT_LABEL = "svcdoctor.test/heartbeat"

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# "create" on these only asks a question (nothing is stored): `kubectl auth whoami`,
# `kubectl auth can-i`, permission pre-checks.
REVIEW_RESOURCES = frozenset({
    "selfsubjectreviews",
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "subjectaccessreviews",
    "localsubjectaccessreviews",
    "tokenreviews",
})
KEEP_ENV = "SVCDOCTOR_KEEP_CP"
BIN_ENV = "SVCDOCTOR_CP_BIN"

T = TypeVar("T")


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or queried."""


# --------------------------------------------------------------------------- binaries


def default_bin_dir() -> Path:
    """Where the binaries are expected: ``$SVCDOCTOR_CP_BIN`` or the build script's cache."""
    if os.environ.get(BIN_ENV):
        return Path(os.environ[BIN_ENV]).expanduser()
    cache = Path(os.environ.get("SVCDOCTOR_CACHE", Path.home() / ".cache" / "svcdoctor")).expanduser()
    name = f"k8s-{K8S_VERSION}-etcd-{ETCD_VERSION}-kwok-{KWOK_VERSION}"
    return cache / "controlplane" / name / "bin"


def _missing_binaries(bin_dir: Path) -> list[str]:
    return [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]


def ensure_binaries(bin_dir: Path | None = None, *, timeout: float = 3600) -> Path:
    """Return the bin dir, building it with ``scripts/build-control-plane.sh`` if needed.

    A file lock serialises concurrent callers (e.g. pytest-xdist workers) so only one
    build runs. An explicit ``$SVCDOCTOR_CP_BIN`` is never built into.
    """
    bin_dir = bin_dir or default_bin_dir()
    if not _missing_binaries(bin_dir):
        return bin_dir
    if os.environ.get(BIN_ENV):
        raise ControlPlaneError(f"{BIN_ENV}={bin_dir} lacks {', '.join(_missing_binaries(bin_dir))}")
    if shutil.which("go") is None:
        raise ControlPlaneError("control-plane binaries missing and Go is not installed to build them")
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(bin_dir.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _missing_binaries(bin_dir):  # another process built it while we waited
            return bin_dir
        proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise ControlPlaneError(f"build-control-plane.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        built = Path(proc.stdout.strip().splitlines()[-1])
    if _missing_binaries(built):
        raise ControlPlaneError(f"build finished but {built} lacks {', '.join(_missing_binaries(built))}")
    return built


def _stage_dir(bin_dir: Path) -> Path:
    """kwok's upstream stage YAMLs: copied next to the binaries, else the Go module cache."""
    candidate = bin_dir.parent / "stages"
    if (candidate / "pod" / "fast" / "pod-ready.yaml").is_file():
        return candidate
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        go_env = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=30)
        modcache = go_env.stdout.strip()
        candidate = Path(modcache) / f"sigs.k8s.io/kwok@{KWOK_VERSION}" / "kustomize" / "stage"
        if (candidate / "pod" / "fast" / "pod-ready.yaml").is_file():
            return candidate
    raise ControlPlaneError(
        f"kwok stage YAMLs not found under {bin_dir.parent / 'stages'}; rerun build-control-plane.sh"
    )


# --------------------------------------------------------------------------- PKI


@dataclass(frozen=True)
class _Cert:
    cert: Path
    key: Path


def _write_pki(d: Path) -> dict[str, _Cert]:
    """CA, apiserver serving cert, one client cert per identity, SA RSA key pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)

    def key_pem(key: Any) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def save(name: str, cert: x509.Certificate, key: Any) -> _Cert:
        c, k = d / f"{name}.crt", d / f"{name}.key"
        c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(key_pem(key))
        k.chmod(0o600)
        return _Cert(c, k)

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def make_ca(cn: str) -> tuple[x509.Certificate, Any]:
        # ECDSA P-256 keeps generation fast; every Kubernetes component and Python's ssl accept it.
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    ca_cert, ca_key = make_ca("svcdoctor-test-ca")
    out = {"ca": save("ca", ca_cert, ca_key)}
    # Front-proxy CA: only so KCM/scheduler find a requestheader CA in the
    # extension-apiserver-authentication ConfigMap (else they log errors forever).
    # No client cert is ever issued from it.
    out["front-proxy-ca"] = save("front-proxy-ca", *make_ca("svcdoctor-test-front-proxy-ca"))

    def leaf(
        subject: x509.Name, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName] | None = None
    ) -> tuple[x509.Certificate, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(ca_key, hashes.SHA256()), key

    first_service_ip = next(ipaddress.ip_network(SERVICE_CIDR).hosts())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(first_service_ip),
    ]
    out["apiserver"] = save("apiserver", *leaf(name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans))
    # Separate identities so the audit log says who did what; all are cluster admins
    # (system:masters) because KCM runs without per-controller SA credentials.
    for ident, cn in {
        "admin": "svcdoctor-admin",
        "kube-controller-manager": "system:kube-controller-manager",
        "kube-scheduler": "system:kube-scheduler",
        "kwok": "kwok-controller",
    }.items():
        out[ident] = save(ident, *leaf(name(cn, "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH))

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (d / "sa.key").write_bytes(key_pem(sa_key))
    (d / "sa.key").chmod(0o600)
    (d / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    out["sa"] = _Cert(d / "sa.pub", d / "sa.key")
    return out


def _write_kubeconfig(
    path: Path, server: str, ca: Path, user: Mapping[str, str], *, name: str, namespace: str | None = None
) -> Path:
    """Credentials are referenced by path, not embedded: the kubernetes Python client would
    otherwise copy embedded data into files under /tmp, outside the control plane's dir."""
    context: dict[str, str] = {"cluster": "svcdoctor-test", "user": name}
    if namespace:
        context["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "svcdoctor-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": name, "user": dict(user)}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- kwok stages


class _LiteralDumper(yaml.SafeDumper):
    """Dump multi-line strings (stage templates) as literal blocks so they stay readable."""


_LiteralDumper.add_representer(
    str,
    lambda dumper, s: dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def _expr(key: str, op: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


def _label(key: str) -> str:
    return f'.metadata.labels["{key}"]'


_READY_STATUS = '.status.conditions.[] | select( .type == "Ready" ) | .status'

_POD_NOT_READY_TEMPLATE = """\
{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  message: "containers with unready status: [{{ range $i, $c := .spec.containers }}{{ if $i }} {{ end }}{{ $c.name }}{{ end }}]"
  reason: ContainersNotReady
  status: "False"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  message: "containers with unready status: [{{ range $i, $c := .spec.containers }}{{ if $i }} {{ end }}{{ $c.name }}{{ end }}]"
  reason: ContainersNotReady
  status: "False"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: {{ if eq .restartPolicy "Always" }}false{{ else }}true{{ end }}
  restartCount: 0
  {{ if eq .restartPolicy "Always" }}
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ else }}
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
{{ if not .status.podIP }}
{{ $hostIPs := NodeIPsWith .spec.nodeName }}
{{ with $hostIPs }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
{{ with $podIPs }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
startTime: {{ $now | Quote }}
{{ end }}
phase: Running
"""

_POD_READY_AGAIN_TEMPLATE = """\
{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  message: null
  reason: null
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  message: null
  reason: null
  status: "True"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
"""

_NODE_NOT_READY_TEMPLATE = """\
{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
{{ if eq .type "Ready" }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
  message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:svcdoctor test node set NotReady"
  reason: KubeletNotReady
  status: "False"
  type: Ready
{{ else }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
{{ end }}
allocatable:
{{ with .status.allocatable }}
{{ YAML . 1 }}
{{ else }}
  cpu: 1k
  memory: 1Ti
  pods: 1M
{{ end }}
capacity:
{{ with .status.capacity }}
{{ YAML . 1 }}
{{ else }}
  cpu: 1k
  memory: 1Ti
  pods: 1M
{{ end }}
{{ $nodeInfo := .status.nodeInfo }}
{{ $kwokVersion := printf "kwok-%s" Version }}
nodeInfo:
  architecture: {{ or $nodeInfo.architecture "amd64" }}
  bootID: {{ or $nodeInfo.bootID `""` }}
  containerRuntimeVersion: {{ or $nodeInfo.containerRuntimeVersion $kwokVersion }}
  kernelVersion: {{ or $nodeInfo.kernelVersion $kwokVersion }}
  kubeProxyVersion: {{ or $nodeInfo.kubeProxyVersion $kwokVersion }}
  kubeletVersion: {{ or $nodeInfo.kubeletVersion $kwokVersion }}
  machineID: {{ or $nodeInfo.machineID `""` }}
  operatingSystem: {{ or $nodeInfo.operatingSystem "linux" }}
  osImage: {{ or $nodeInfo.osImage `""` }}
  systemUUID: {{ or $nodeInfo.systemUUID `""` }}
phase: Running
"""


def _stage(name: str, kind: str, exprs: list[dict[str, Any]], template: str) -> dict[str, Any]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": exprs},
            "next": {"statusTemplate": template},
        },
    }


def build_stages(stage_dir: Path, node_status_seconds: int | None = None) -> list[dict[str, Any]]:
    """kwok stages: upstream node-fast, heartbeat-with-lease and pod-fast, narrowed so each
    object matches at most one stage (kwok picks randomly among matches), plus ours.
    ``node_status_seconds``: how often each node posts its status (lastHeartbeatTime);
    None keeps upstream's 10–20 minutes."""

    def upstream(rel: str) -> dict[str, Any]:
        return yaml.safe_load((stage_dir / rel).read_text())

    def narrow(stage: dict[str, Any], *exprs: dict[str, Any]) -> dict[str, Any]:
        stage["spec"]["selector"]["matchExpressions"].extend(exprs)
        return stage

    not_false = lambda key: _expr(_label(key), "NotIn", "false")  # noqa: E731 - reads better inline
    no_deletion = _expr(".metadata.deletionTimestamp", "DoesNotExist")
    return [
        # Nodes: initialize/heartbeat skip nodes we want NotReady, our stage handles those.
        narrow(upstream("node/fast/node-initialize.yaml"), not_false(NODE_READY_LABEL)),
        _every(narrow(upstream("node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"),
                      not_false(NODE_READY_LABEL)), node_status_seconds),
        _stage(
            "svcdoctor-node-not-ready",
            "Node",
            [_expr(_label(NODE_READY_LABEL), "In", "false"), _expr(_READY_STATUS, "NotIn", "False")],
            _NODE_NOT_READY_TEMPLATE,
        ),
        # Pods: ordinary pods become Running/Ready; labelled ones Running/NotReady.
        narrow(upstream("pod/fast/pod-ready.yaml"), not_false(POD_READY_LABEL)),
        _stage(
            "svcdoctor-pod-not-ready",
            "Pod",
            [
                no_deletion,
                _expr(_label(POD_READY_LABEL), "In", "false"),
                _expr(".status.phase", "In", "Pending", "Running"),
                _expr(_READY_STATUS, "NotIn", "False"),
            ],
            _POD_NOT_READY_TEMPLATE,
        ),
        _stage(
            "svcdoctor-pod-ready-again",
            "Pod",
            [
                no_deletion,
                _expr(_label(POD_READY_LABEL), "In", "true"),
                _expr(".status.phase", "In", "Running"),
                _expr(_READY_STATUS, "In", "False"),
            ],
            _POD_READY_AGAIN_TEMPLATE,
        ),
        upstream("pod/fast/pod-complete.yaml"),
        # Upstream deletes any pod with a deletionTimestamp at once (grace 0, finalizers
        # untouched); the label lets a test keep a pod Terminating without a finalizer.
        narrow(upstream("pod/fast/pod-delete.yaml"), _expr(_label(HOLD_TERMINATING_LABEL), "NotIn", "true")),
    ]


# --------------------------------------------------------------------------- processes


def _free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (sockets held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    """Child pre-exec: get SIGKILLed if the parent dies, so a crashed test run leaks nothing."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


_live: "weakref.WeakSet[ControlPlane]" = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for cp in list(_live):
        with contextlib.suppress(Exception):
            cp.stop()


# --------------------------------------------------------------------------- control plane


def _every(stage: dict[str, Any], seconds: int | None) -> dict[str, Any]:
    if seconds is not None:
        stage["spec"]["delay"] = {"durationMilliseconds": seconds * 1000,
                                  "jitterDurationMilliseconds": seconds * 1000 + 500}
    return stage


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok on 127.0.0.1.

    Usage::

        with ControlPlane() as cp:
            cp.add_node("node-a", "127.0.0.11")
            cp.create_namespace("demo")
            core = cp.core_v1()  # or kubernetes.config.load_kube_config(str(cp.kubeconfig))
    """

    def __init__(
        self,
        bin_dir: Path | None = None,
        *,
        node_lease_seconds: int = 20,
        node_monitor_grace_period: int = 30,
        node_status_seconds: int | None = None,
        startup_timeout: float = 120.0,
        keep: bool | None = None,
        extra_args: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``node_lease_seconds``: kwok lease duration (renewed every quarter of it);
        ``node_monitor_grace_period``: seconds without a renewal before KCM calls a node
        Unknown; ``node_status_seconds``: how often nodes post their status (default: as a
        kubelet with a lease, every 10–20 min; 10 is a kubelet's nodeStatusUpdateFrequency);
        ``keep``: leave the temp dir (default: ``$SVCDOCTOR_KEEP_CP=1``);
        ``extra_args``: more flags per component name, e.g. ``{"kube-apiserver": [...]}``."""
        if node_monitor_grace_period < node_lease_seconds / 4 * 3:
            # kwok renews every lease/4 s; fewer than 3 chances per grace period invites
            # spurious NotReady nodes on a busy machine.
            raise ValueError("node_monitor_grace_period must be at least 3/4 of node_lease_seconds")
        self.binaries = bin_dir or default_bin_dir()
        self.node_lease_seconds = node_lease_seconds
        self.node_monitor_grace_period = node_monitor_grace_period
        self.node_status_seconds = node_status_seconds
        self.startup_timeout = startup_timeout
        self.keep = os.environ.get(KEEP_ENV, "") not in ("", "0") if keep is None else keep
        self.extra_args = {k: list(v) for k, v in (extra_args or {}).items()}
        self.workdir: Path | None = None
        self.kubeconfig: Path | None = None
        self.server = ""
        self.startup_seconds: float | None = None
        self.audit_log: Path | None = None
        self._children: list[_Child] = []
        self._pki: dict[str, _Cert] = {}
        self._api_client: Any = None
        self._lock = threading.Lock()
        self._next_node_ip = 10
        self._owns_workdir = False

    # ---- availability

    @staticmethod
    def available(bin_dir: Path | None = None) -> tuple[bool, str]:
        """(True, how) if a control plane can run here, else (False, why) for pytest.skip."""
        if not sys.platform.startswith("linux"):
            return False, f"real control plane needs Linux (this is {sys.platform})"
        bin_dir = bin_dir or default_bin_dir()
        missing = _missing_binaries(bin_dir)
        if not missing:
            return True, f"binaries in {bin_dir}"
        if os.environ.get(BIN_ENV):
            return False, f"{BIN_ENV}={bin_dir} lacks {', '.join(missing)}"
        if shutil.which("go") is None:
            return False, f"control-plane binaries not built ({bin_dir}) and Go is not installed to build them"
        return True, f"binaries will be built with {shutil.which('go')} (several minutes, once)"

    def ensure_binaries(self) -> Path:
        """Build the binaries if missing (see module ``ensure_binaries``); returns the bin dir."""
        self.binaries = ensure_binaries(self.binaries)
        return self.binaries

    # ---- lifecycle

    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "ControlPlane":
        """Start every component and wait until all are ready; returns self."""
        if self._children:
            raise ControlPlaneError("already started")
        t0 = time.monotonic()
        self.ensure_binaries()
        stages = build_stages(_stage_dir(self.binaries), self.node_status_seconds)
        for attempt in range(3):
            self.workdir = Path(tempfile.mkdtemp(prefix="svcdoctor-cp-"))
            self._owns_workdir = True
            _live.add(self)
            try:
                self._start(stages, deadline=time.monotonic() + self.startup_timeout)
                break
            except ControlPlaneError as exc:
                self.stop()
                # Free ports are picked then released before the components bind them;
                # a parallel run can grab one in between. Retry with fresh ports.
                if "address already in use" not in str(exc) or attempt == 2:
                    raise
            except BaseException:
                self.stop()
                raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _start(self, stages: list[dict[str, Any]], deadline: float) -> None:
        assert self.workdir is not None
        w = self.workdir
        for sub in ("logs", "audit", "kwok", "certs-kcm", "certs-scheduler", "certs-apiserver"):
            (w / sub).mkdir(parents=True, exist_ok=True)
        (w / "etcd").mkdir(mode=0o700)  # etcd warns about anything wider
        self._pki = pki = _write_pki(w / "pki")
        etcd_port, etcd_peer, api_port, kcm_port, sched_port, kwok_port = _free_ports(6)
        self.server = f"https://127.0.0.1:{api_port}"

        def client_kubeconfig(ident: str) -> Path:
            user = {"client-certificate": str(pki[ident].cert), "client-key": str(pki[ident].key)}
            return _write_kubeconfig(w / f"{ident}.kubeconfig", self.server, pki["ca"].cert, user, name=ident)

        self.kubeconfig = client_kubeconfig("admin")
        kcm_kc, sched_kc, kwok_kc = map(client_kubeconfig, ("kube-controller-manager", "kube-scheduler", "kwok"))

        # Metadata level for everything: who did what verb to which object, no bodies.
        policy = w / "audit" / "policy.yaml"
        policy.write_text(yaml.safe_dump({
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "omitStages": ["RequestReceived"],
            "rules": [{"level": "Metadata"}],
        }))
        self.audit_log = w / "audit" / "audit.log"
        stage_file = w / "kwok" / "stages.yaml"
        stage_file.write_text(yaml.dump_all(stages, Dumper=_LiteralDumper, sort_keys=False))

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{etcd_peer}"
        self._spawn("etcd", [
            "--name=svcdoctor",
            f"--data-dir={w / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=svcdoctor={peer_url}",
            "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",  # throwaway data: skip fsync, much faster on CI disks
            "--log-level=warn",
        ])
        self._wait_http("etcd", f"{etcd_url}/health", deadline, ok=lambda body: b'"health":"true"' in body)

        self._spawn("kube-apiserver", [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={w / 'certs-apiserver'}",
            f"--tls-cert-file={pki['apiserver'].cert}",
            f"--tls-private-key-file={pki['apiserver'].key}",
            f"--client-ca-file={pki['ca'].cert}",
            f"--requestheader-client-ca-file={pki['front-proxy-ca'].cert}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            # Endpoints validation rejects loopback IPs, so the apiserver can't publish
            # itself as the `kubernetes` Service's endpoint; skip that reconciler.
            "--endpoint-reconciler-type=none",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={pki['sa'].cert}",
            f"--service-account-signing-key-file={pki['sa'].key}",
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--profiling=false",
        ])
        self._wait_http("kube-apiserver", f"{self.server}/readyz", deadline, tls=True)

        self._spawn("kube-controller-manager", [
            f"--kubeconfig={kcm_kc}",
            f"--authentication-kubeconfig={kcm_kc}",
            f"--authorization-kubeconfig={kcm_kc}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={kcm_port}",
            f"--cert-dir={w / 'certs-kcm'}",
            # All on-by-default controllers: endpoints, endpointslice, serviceaccount(-token),
            # namespace, garbage collector, replicaset, deployment, node-lifecycle, taint-eviction...
            "--controllers=*",
            f"--root-ca-file={pki['ca'].cert}",
            f"--service-account-private-key-file={pki['sa'].key}",
            f"--cluster-signing-cert-file={pki['ca'].cert}",
            f"--cluster-signing-key-file={pki['ca'].key}",
            "--node-monitor-period=2s",
            f"--node-monitor-grace-period={self.node_monitor_grace_period}s",
            "--profiling=false",
        ])
        self._spawn("kube-scheduler", [
            f"--kubeconfig={sched_kc}",
            f"--authentication-kubeconfig={sched_kc}",
            f"--authorization-kubeconfig={sched_kc}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={sched_port}",
            f"--cert-dir={w / 'certs-scheduler'}",
            "--profiling=false",
        ])
        self._spawn("kwok", [
            f"--kubeconfig={kwok_kc}",
            f"--config={stage_file}",
            # A selector instead of --manage-all-nodes: relabelling a node out of it makes
            # kwok drop the node (watch DELETED), i.e. stop its lease like a dead kubelet.
            f"--manage-nodes-with-label-selector={NODE_HEARTBEAT_LABEL}!=stopped",
            f"--disregard-status-with-label-selector={KWOK_IGNORE_LABEL}=true",
            f"--node-lease-duration-seconds={self.node_lease_seconds}",
            f"--cidr={POD_CIDR}",
            f"--server-address=127.0.0.1:{kwok_port}",
        ], env={"KWOK_WORKDIR": str(w / "kwok")})  # kwok would otherwise read/write ~/.kwok

        self._wait_http("kube-controller-manager", f"https://127.0.0.1:{kcm_port}/healthz", deadline, tls=False)
        self._wait_http("kube-scheduler", f"https://127.0.0.1:{sched_port}/readyz", deadline, tls=False)
        self._wait_http("kwok", f"http://127.0.0.1:{kwok_port}/healthz", deadline)
        # The SA controller creating default/default proves KCM's controllers run and that
        # pods can be admitted (the ServiceAccount admission plugin needs it).
        self._wait("ServiceAccount default/default", deadline, lambda: self._exists_sa("default", "default"))

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> None:
        assert self.workdir is not None
        log = self.workdir / "logs" / f"{name}.log"
        args = [str(self.binaries / name), *args, *self.extra_args.get(name, [])]
        (self.workdir / "logs" / f"{name}.cmdline").write_text(" \\\n  ".join(args) + "\n")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **(env or {})},
                # Own session: a terminal Ctrl-C reaches only us, and we stop children in order.
                start_new_session=True,
                # PDEATHSIG fires when the *thread* that forked exits, so only arm it from
                # the main thread, whose exit is the process's.
                preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
            )
        self._children.append(_Child(name, proc, log))

    def stop(self) -> None:
        """Stop every child by PID (SIGTERM, SIGKILL after 15 s) and remove the temp dir."""
        with self._lock:
            children, self._children = self._children, []
            # Dependents first, in parallel; etcd last so the apiserver can shut down cleanly.
            front = [c for c in children if c.name != "etcd"]
            back = [c for c in children if c.name == "etcd"]
            for group in (front, back):
                for c in group:
                    if c.proc.poll() is None:
                        with contextlib.suppress(ProcessLookupError):
                            c.proc.terminate()
                for c in group:
                    try:
                        c.proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(ProcessLookupError):
                            c.proc.kill()
                        c.proc.wait(timeout=10)
            if self._api_client is not None:
                with contextlib.suppress(Exception):
                    self._api_client.close()
                self._api_client = None
            _live.discard(self)
            if self._owns_workdir and self.workdir is not None:
                self._owns_workdir = False  # stop() may run again (atexit, retries): act once
                if self.keep:
                    print(f"svcdoctor control plane: kept {self.workdir} ({KEEP_ENV} set)", file=sys.stderr)
                else:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def bin_dir(self) -> Path:
        """Alias of ``binaries``: the directory holding kubectl and the components."""
        return self.binaries

    @property
    def ca_cert(self) -> Path:
        """CA that signed the apiserver's serving cert and every client cert."""
        return self._cert("ca").cert

    @property
    def admin_cert(self) -> Path:
        """Admin client certificate (CN svcdoctor-admin, O system:masters)."""
        return self._cert("admin").cert

    @property
    def admin_key(self) -> Path:
        """Private key for ``admin_cert``."""
        return self._cert("admin").key

    def _cert(self, ident: str) -> _Cert:
        if ident not in self._pki:
            raise ControlPlaneError("control plane not started")
        return self._pki[ident]

    @property
    def pids(self) -> dict[str, int]:
        """PID of each running component."""
        return {c.name: c.proc.pid for c in self._children}

    def log(self, component: str) -> str:
        """The component's combined stdout/stderr so far."""
        for c in self._children:
            if c.name == component:
                return c.log.read_text(errors="replace")
        raise KeyError(component)

    # ---- waiting

    def check_alive(self) -> None:
        """Raise ControlPlaneError (with the log tail) if any component has exited."""
        self._check_children()

    def _check_children(self) -> None:
        for c in self._children:
            if c.proc.poll() is not None:
                raise ControlPlaneError(f"{c.name} exited with {c.proc.returncode}:\n{c.tail()}")

    def _wait(self, what: str, deadline: float, probe: Callable[[], bool], interval: float = 0.1) -> None:
        last: BaseException | None = None
        while time.monotonic() < deadline:
            self._check_children()
            try:
                if probe():
                    return
            except Exception as exc:  # not up yet: connection refused, 503, 404 ...
                last = exc
            time.sleep(interval)
        logs = "\n".join(f"--- {c.name}\n{c.tail(15)}" for c in self._children)
        raise ControlPlaneError(f"timed out waiting for {what} (last error: {last!r})\n{logs}")

    def _wait_http(
        self, what: str, url: str, deadline: float, *, tls: bool | None = None, ok: Callable[[bytes], bool] | None = None
    ) -> None:
        """Poll url until 200. tls=True: verify with our CA and present the admin cert;
        tls=False: unverified (KCM/scheduler serve self-signed certs, loopback only)."""
        ctx: ssl.SSLContext | None = None
        if tls is True:
            ctx = ssl.create_default_context(cafile=str(self.ca_cert))
            ctx.load_cert_chain(str(self.admin_cert), str(self.admin_key))
        elif tls is False:
            ctx = ssl._create_unverified_context()

        def probe() -> bool:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
                return resp.status == 200 and (ok is None or ok(resp.read()))

        self._wait(what, deadline, probe)

    def wait_until(
        self, predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.2, what: str = "condition"
    ) -> T:
        """Poll predicate until it returns something truthy (returned) or timeout (raises)."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # transient API errors count as "not yet"
                last = exc
            if time.monotonic() >= deadline:
                raise ControlPlaneError(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")
            time.sleep(interval)

    # ---- clients

    def api_client(self) -> Any:
        """A kubernetes.client.ApiClient for the admin kubeconfig (shared, closed on stop)."""
        if self._api_client is None:
            from kubernetes import config

            self._api_client = config.new_client_from_config(config_file=str(self._need_kubeconfig()))
        return self._api_client

    def core_v1(self) -> Any:
        """kubernetes.client.CoreV1Api as admin."""
        from kubernetes import client

        return client.CoreV1Api(self.api_client())

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl (admin unless kubeconfig given); discovery cache stays in the temp dir."""
        assert self.workdir is not None
        cmd = [
            str(self.binaries / "kubectl"),
            f"--kubeconfig={kubeconfig or self._need_kubeconfig()}",
            f"--cache-dir={self.workdir / 'kubectl-cache'}",
            *args,
        ]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def _need_kubeconfig(self) -> Path:
        if self.kubeconfig is None:
            raise ControlPlaneError("control plane not started")
        return self.kubeconfig

    def _exists_sa(self, namespace: str, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core_v1().read_namespaced_service_account(name, namespace, _request_timeout=5)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    # ---- namespaces, service accounts, tokens

    def create_namespace(self, name: str, *, labels: Mapping[str, str] | None = None, timeout: float = 30) -> None:
        """Create a namespace and wait for its default ServiceAccount (so pods are admitted)."""
        self.core_v1().create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
        self.wait_until(lambda: self._exists_sa(name, "default"), timeout, what=f"ServiceAccount {name}/default")

    def create_token(
        self,
        namespace: str,
        service_account: str,
        *,
        audiences: list[str] | None = None,
        expiration_seconds: int = 3600,
        create_service_account: bool = True,
    ) -> str:
        """Mint a bound token for a ServiceAccount with the TokenRequest API (creating the SA first if asked)."""
        from kubernetes.client.exceptions import ApiException

        core = self.core_v1()
        if create_service_account:
            try:
                core.create_namespaced_service_account(namespace, {"metadata": {"name": service_account}})
            except ApiException as exc:
                if exc.status != 409:
                    raise
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = audiences
        resp = core.create_namespaced_service_account_token(service_account, namespace, {"spec": spec})
        return resp.status.token

    def kubeconfig_for_token(
        self, token: str, path: Path | str, *, namespace: str | None = None, user: str = "token-user"
    ) -> Path:
        """Write a kubeconfig that authenticates with a bearer token (e.g. from create_token)."""
        return _write_kubeconfig(Path(path), self.server, self.ca_cert, {"token": token}, name=user, namespace=namespace)

    @staticmethod
    def service_account_username(namespace: str, name: str) -> str:
        """The username the apiserver records for a ServiceAccount token."""
        return f"system:serviceaccount:{namespace}:{name}"

    # ---- nodes

    def add_node(
        self,
        name: str,
        ip: str | None = None,
        *,
        ready: bool = True,
        labels: Mapping[str, str] | None = None,
        provider_id: str | None = None,
        cpu: str = "8",
        memory: str = "32Gi",
        pods: str = "110",
        wait: bool = True,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Register a kwok-managed Node with InternalIP ``ip`` (default: the next of
        127.0.0.11, .12, ...; keep it loopback so probes can reach it). ready=False makes
        kwok report Ready=False from the start. Returns the node as a dict once its Ready
        condition matches (if wait)."""
        if ip is None:
            self._next_node_ip += 1
            ip = f"127.0.0.{self._next_node_ip}"
        node_labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
            **(labels or {}),
        }
        if not ready:
            node_labels[NODE_READY_LABEL] = "false"
        resources = {"cpu": cpu, "memory": memory, "pods": pods}
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": node_labels,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {"providerID": provider_id or f"kwok://{name}"},
            # Node status is accepted on create (kubelet registration works this way);
            # kwok's initialize stage keeps these addresses and resources.
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "capacity": resources,
                "allocatable": resources,
            },
        }
        self.core_v1().create_node(body)
        if not wait:
            return self.get_node(name)
        return self.wait_for_node(name, "True" if ready else "False", timeout=timeout)

    def get_node(self, name: str) -> dict[str, Any]:
        """The node as a plain dict (API field names)."""
        return self.api_client().sanitize_for_serialization(self.core_v1().read_node(name))

    @staticmethod
    def node_ready_status(node: Mapping[str, Any]) -> str | None:
        """'True' / 'False' / 'Unknown' from a node dict, None if no Ready condition."""
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return cond.get("status")
        return None

    def wait_for_node(
        self, name: str, ready: Literal["True", "False", "Unknown"] = "True", timeout: float = 30
    ) -> dict[str, Any]:
        """Wait until the node's Ready condition is ``ready``; for "True" also until KCM has
        lifted its not-ready/unreachable taints, so the node is schedulable."""

        def check() -> dict[str, Any] | None:
            node = self.get_node(name)
            if self.node_ready_status(node) != ready:
                return None
            if ready == "True":
                taints = {t["key"] for t in (node.get("spec") or {}).get("taints") or []}
                if taints & {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}:
                    return None
            return node

        return self.wait_until(check, timeout, what=f"node {name} Ready={ready}")

    def set_node_ready(
        self,
        name: str,
        ready: bool,
        *,
        how: Literal["condition", "heartbeat"] = "condition",
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Make a node NotReady (or Ready again) for real.

        how="condition": kwok keeps the lease but reports Ready=False (a live kubelet on a
        sick node), within ~1 s. KCM taints the node not-ready (NoSchedule + NoExecute)
        but leaves its pods' Ready condition alone.
        how="heartbeat": kwok stops managing the node (lease, status, pods), like a dead
        kubelet. After ``node_monitor_grace_period`` KCM sets every condition Unknown,
        taints the node unreachable, records NodeNotReady events (node and pods) and
        marks its pods Ready=False; waits up to grace + 30 s.
        Either way taint-eviction deletes the pods once their (default 300 s) toleration
        runs out.

        ready=True undoes both, waits for Ready=True without taints and then, as a
        returning kubelet would, sets Ready=True again on the node's Running pods that
        KCM had marked NotReady (Ready=False while ContainersReady=True).
        """
        if ready:  # undo either way of breaking it
            labels: dict[str, str | None] = {NODE_READY_LABEL: None, NODE_HEARTBEAT_LABEL: None}
        elif how == "condition":
            labels = {NODE_READY_LABEL: "false"}
        else:
            labels = {NODE_HEARTBEAT_LABEL: "stopped"}
        self.core_v1().patch_node(name, {"metadata": {"labels": labels}})
        if not wait:
            return self.get_node(name)
        if ready:
            want: Literal["True", "False", "Unknown"] = "True"
        else:
            want = "False" if how == "condition" else "Unknown"
        if timeout is None:
            timeout = 30.0 if how == "condition" or ready else self.node_monitor_grace_period + 30.0
        node = self.wait_for_node(name, want, timeout=timeout)
        if ready:
            self._resync_pods_ready(name)
        return node

    def _resync_pods_ready(self, node_name: str) -> None:
        """Undo KCM's MarkPodsNotReady for a node that came back (kwok's stages only move
        Pending pods to Ready, so nothing else would)."""
        core = self.core_v1()
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node_name}").items:
            labels = pod.metadata.labels or {}
            if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
                continue
            if labels.get(POD_READY_LABEL) == "false":
                continue
            conds = {c.type: c.status for c in pod.status.conditions or []}
            if conds.get("Ready") == "False" and conds.get("ContainersReady") == "True":
                patch = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}}
                core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, patch)

    # ---- audit

    def audit_events(
        self,
        *,
        user: str | None = None,
        verbs: Iterable[str] | None = None,
        stage: str | None = "ResponseComplete",
        barrier: bool = True,
    ) -> list[dict[str, Any]]:
        """Parsed audit events (Metadata level), optionally filtered by username, verbs and stage.

        The apiserver writes an event just *after* the response goes out, so by default a
        marker request is sent first and the log read once the marker shows up: every
        request that had returned before the call is then in the log.
        """
        if self.audit_log is None:
            raise ControlPlaneError("control plane not started")
        if barrier:
            self._audit_barrier()
        verb_set = set(verbs) if verbs is not None else None
        events: list[dict[str, Any]] = []
        for ev in self._read_audit():
            if stage is not None and ev.get("stage") != stage:
                continue
            if user is not None and (ev.get("user") or {}).get("username") != user:
                continue
            if verb_set is not None and ev.get("verb") not in verb_set:
                continue
            events.append(ev)
        return events

    def _audit_lines(self, offset: int = 0) -> Iterator[str]:
        assert self.audit_log is not None
        with contextlib.suppress(FileNotFoundError), open(self.audit_log, encoding="utf-8") as f:
            f.seek(offset)
            for line in f:
                if not line.endswith("\n"):
                    return  # a line still being written
                yield line

    def _read_audit(self) -> Iterator[dict[str, Any]]:
        for line in self._audit_lines():
            yield json.loads(line)

    def _audit_barrier(self, timeout: float = 10.0) -> None:
        from kubernetes.client.exceptions import ApiException

        assert self.audit_log is not None
        marker = f"svcdoctor-audit-barrier-{uuid.uuid4().hex[:12]}"
        try:
            offset = self.audit_log.stat().st_size
        except FileNotFoundError:
            offset = 0
        with contextlib.suppress(ApiException):  # 404 is expected; only the audit line matters
            self.core_v1().read_namespaced_config_map(marker, "default")
        # Only scan what was appended since; the log grows by MBs over a long session.
        self.wait_until(
            lambda: any(marker in line and '"ResponseComplete"' in line for line in self._audit_lines(offset)),
            timeout,
            interval=0.05,
            what="audit barrier",
        )

    def mutating_requests(self, user: str, *, include_reviews: bool = False) -> list[dict[str, Any]]:
        """Every create/update/patch/delete/deletecollection the user issued, whatever the
        outcome (a 403 still counts: it was attempted). Creates of access/identity reviews
        store nothing and are left out unless include_reviews."""
        return [
            ev
            for ev in self.audit_events(user=user, verbs=MUTATING_VERBS)
            if include_reviews or (ev.get("objectRef") or {}).get("resource") not in REVIEW_RESOURCES
        ]


def iter_audit_summary(events: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """One readable line per audit event, for assertion messages."""
    for ev in events:
        ref = ev.get("objectRef") or {}
        code = (ev.get("responseStatus") or {}).get("code")
        user = (ev.get("user") or {}).get("username")
        yield f"{user} {ev.get('verb')} {ev.get('requestURI')} -> {code} ({ref.get('resource')})"
