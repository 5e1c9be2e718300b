#!/usr/bin/env python3
"""Re-record recordings/ from the real control plane (tests/scenarios.py).

    python scripts/record-scenarios.py            # every scenario
    python scripts/record-scenarios.py selector-typo readiness-failing

Starts etcd + kube-apiserver + controllers + kwok on loopback (building them first if
needed), creates each scenario through the API, waits for the controllers, then runs the
installed ``svcdoctor record`` against it, exactly as a user would. The scenario's
expected findings are written into the recording's ``expect`` block.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import controlplane  # noqa: E402
import scenarios  # noqa: E402


def main(names: list[str]) -> int:
    chosen = [scenarios.BY_NAME[n] for n in names] if names else scenarios.SCENARIOS
    with controlplane.ControlPlane() as cp:
        scenarios.prepare(cp)
        for sc in chosen:
            scenarios.run(cp, sc)
            out = ROOT / "recordings" / f"{sc.name}.yaml"
            env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
            subprocess.run(["svcdoctor", "record", f"svc/{sc.service}", "-n", sc.namespace,
                            "-o", str(out), "--force", "--description", sc.description, "--no-probe"],
                           check=True, env=env)
            doc = yaml.safe_load(out.read_text())
            doc["metadata"]["source"] = (f"kube-apiserver {controlplane.K8S_VERSION} + kwok "
                                         f"{controlplane.KWOK_VERSION}, scripts/record-scenarios.py")
            # kwok runs no kube-proxy: there is no data plane to probe in this cluster.
            doc["probeNote"] = "recorded on a control plane without a data plane (kwok): not probed"
            items = doc.pop("items")
            doc["expect"] = {"findings": sc.expect}
            doc["items"] = items
            out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
            print(f"{sc.name}: {len(items)} objects, expect {sc.expect or 'no findings'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
