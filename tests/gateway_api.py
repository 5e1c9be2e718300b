"""The Gateway API standard-channel CRDs for the test control plane.

Taken from the published Go module ``sigs.k8s.io/gateway-api`` at a pinned version through
the Go module proxy (as the control-plane binaries are), copied into the cache outside
the repository, and installed as they are, so the real apiserver validates every
Gateway, route and ReferenceGrant the tests create against the upstream schemas.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

VERSION = "v1.6.3"
MODULE = "sigs.k8s.io/gateway-api"
# The CRDs svcdoctor reads; the safe-upgrades ValidatingAdmissionPolicy is left out.
CRDS = ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes",
        "referencegrants")


def cache_dir() -> Path:
    cache = Path(os.environ.get("SVCDOCTOR_CACHE", Path.home() / ".cache" / "svcdoctor")).expanduser()
    return cache / f"gateway-api-{VERSION}" / "crds"


def crd_files() -> list[Path]:
    """The CRD files, fetched once (``go mod download``) and cached."""
    out = cache_dir()
    want = [out / f"gateway.networking.k8s.io_{c}.yaml" for c in CRDS]
    if all(f.is_file() for f in want):
        return want
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(f.is_file() for f in want):
            return want
        work = out.parent / "mod"
        work.mkdir(exist_ok=True)
        if not (work / "go.mod").exists():
            (work / "go.mod").write_text("module local/gatewayapi\n\ngo 1.22\n")
        env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
        proc = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"], cwd=work,
                              capture_output=True, text=True, timeout=600, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"go mod download {MODULE}@{VERSION} failed: {proc.stderr[-2000:]}")
        src = Path(json.loads(proc.stdout)["Dir"]) / "config" / "crd" / "standard"
        tmp = out.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for f in want:
            shutil.copyfile(src / f.name, tmp / f.name)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return want


def install(cp: Any) -> None:
    """Install the CRDs (server-side: they are too large for a last-applied annotation)."""
    for f in crd_files():
        cp.kubectl("apply", "--server-side", "-f", str(f))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s",
               *[f"crd/{c}.gateway.networking.k8s.io" for c in CRDS])
    cp.wait_until(lambda: cp.kubectl("get", "httproutes", "-A", check=False).returncode == 0,
                  timeout=30, what="Gateway API served")
