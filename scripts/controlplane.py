#!/usr/bin/env python3
"""Developer control plane: a real kube-apiserver & co. on 127.0.0.1 with three kwok nodes.

    python scripts/controlplane.py build   # build/cache the binaries only
    python scripts/controlplane.py up      # start, print KUBECONFIG, run until Ctrl-C / SIGTERM

Nodes: node-a 127.0.0.11, node-b 127.0.0.12, node-c 127.0.0.13. Pod IPs and ClusterIPs
are fake; only 127.0.0.1 (and the nodes' loopback IPs) are real. Set SVCDOCTOR_KEEP_CP=1
to keep the temp dir (logs, audit log) after stopping.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path
from types import FrameType, ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
NODES = (("node-a", "127.0.0.11"), ("node-b", "127.0.0.12"), ("node-c", "127.0.0.13"))


def _load_harness() -> ModuleType:
    """Import tests/controlplane.py by path: `import controlplane` would find this script."""
    path = REPO_ROOT / "tests" / "controlplane.py"
    spec = importlib.util.spec_from_file_location("svcdoctor_test_controlplane", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def cmd_build(cp_mod: ModuleType) -> int:
    print(cp_mod.ensure_binaries())
    return 0


def cmd_up(cp_mod: ModuleType) -> int:
    ok, why = cp_mod.ControlPlane.available()
    if not ok:
        print(f"cannot run the control plane: {why}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    rc = 0
    with cp_mod.ControlPlane() as cp:
        for name, ip in NODES:
            cp.add_node(name, ip)
        print(f"# control plane ready in {cp.startup_seconds:.1f}s; files in {cp.workdir}", file=sys.stderr)
        print(f"export KUBECONFIG={cp.kubeconfig}")
        print(f"export PATH={cp.binaries}:$PATH  # kubectl {cp_mod.K8S_VERSION}")
        print("# Ctrl-C or SIGTERM stops everything", file=sys.stderr)
        sys.stdout.flush()
        while not stop.wait(1.0):
            try:
                cp.check_alive()
            except cp_mod.ControlPlaneError as exc:  # a dead component means a broken cluster
                print(exc, file=sys.stderr)
                rc = 1
                break
        print("# stopping", file=sys.stderr)
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "build"))
    args = parser.parse_args(argv)
    cp_mod = _load_harness()
    return cmd_build(cp_mod) if args.command == "build" else cmd_up(cp_mod)


if __name__ == "__main__":
    sys.exit(main())
