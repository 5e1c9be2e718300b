"""CRDs from published Go modules, for the test control plane.

Fetched once through the Go module proxy (as the control-plane binaries are), copied into
the cache outside the repository, and installed as they are, so the real apiserver
validates what the tests create against the upstream schemas."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    return Path(os.environ.get("SVCDOCTOR_CACHE", Path.home() / ".cache" / "svcdoctor")).expanduser()


def fetch(module: str, version: str, subdir: str, names: list[str], cache: Path) -> list[Path]:
    """``names`` from ``subdir`` of ``module@version``, cached in ``cache``."""
    want = [cache / n for n in names]
    if all(f.is_file() for f in want):
        return want
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(f.is_file() for f in want):
            return want
        work = cache.parent / "mod"
        work.mkdir(exist_ok=True)
        if not (work / "go.mod").exists():
            (work / "go.mod").write_text("module local/crds\n\ngo 1.22\n")
        env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
        proc = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=work,
                              capture_output=True, text=True, timeout=600, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"go mod download {module}@{version} failed: {proc.stderr[-2000:]}")
        src = Path(json.loads(proc.stdout)["Dir"]) / subdir
        tmp = cache.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for f in want:
            shutil.copyfile(src / f.name, tmp / f.name)
        shutil.rmtree(cache, ignore_errors=True)
        tmp.rename(cache)
    return want


def install(cp: Any, files: list[Path], crds: list[str], served: str) -> None:
    """Apply the CRDs (server-side: they are too large for a last-applied annotation) and
    wait until ``served`` (a resource name for kubectl get) answers."""
    for f in files:
        cp.kubectl("apply", "--server-side", "-f", str(f))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{c}" for c in crds])
    cp.wait_until(lambda: cp.kubectl("get", served, "-A", check=False).returncode == 0,
                  timeout=30, what=f"{served} served")
