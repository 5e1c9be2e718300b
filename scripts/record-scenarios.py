#!/usr/bin/env python3
"""Re-record svcdoctor/recordings/ from the real control plane (tests/scenarios.py) and from the
network lab (tests/lab_scenarios.py: the control plane inside a network namespace, with
kube-proxy's data plane, firewalls and DNS; these recordings carry probe outcomes), and with
an AWS account emulated by moto (tests/aws_scenarios.py; these carry the cloud's state).

    python scripts/record-scenarios.py            # every scenario
    python scripts/record-scenarios.py selector-typo lab-lb-dropping

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


def finish(out: Path, expect: list[str], source: str, probe_note: str | None,
           translation: str | None = None) -> int:
    """Stamp where the recording came from and what the scenario expects."""
    doc = yaml.safe_load(out.read_text())
    doc["metadata"]["source"] = source
    if probe_note is not None:
        doc["probeNote"] = probe_note
    items = doc.pop("items")
    doc["expect"] = {"findings": expect, **({"translation": translation} if translation else {})}
    doc["items"] = items
    out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    return len(items)


def record_lab(names: list[str]) -> None:
    import lab_scenarios
    from netlab import NetLab

    chosen = [lab_scenarios.BY_NAME[n] for n in names]
    if not chosen:
        return
    with NetLab() as lab, lab.inside(), controlplane.ControlPlane() as cp:
        lab_scenarios.prepare(lab, cp)
        for sc in chosen:
            lab_scenarios.reset(lab)
            lab_scenarios.run(lab, cp, sc, lab_scenarios.SCENARIOS.index(sc))
            out = ROOT / "svcdoctor" / "recordings" / f"{sc.name}.yaml"
            env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
            proc = lab.run(["svcdoctor", "record", f"svc/{sc.svc_name}", "-n", sc.namespace, "-o", str(out),
                            "--force", "--description", sc.description,
                            "--probe-timeout", lab_scenarios.PROBE_TIMEOUT], env=env)
            if proc.returncode != 0:
                raise SystemExit(f"{sc.name}: {proc.stderr}")
            n = finish(out, sc.expect, f"kube-apiserver {controlplane.K8S_VERSION} + kwok "
                       f"{controlplane.KWOK_VERSION} in a network lab (scripts/record-scenarios.py)", None)
            print(f"{sc.name}: {n} objects, expect {sc.expect or 'no findings'}")


def record_aws(names: list[str]) -> None:
    """Services whose load balancer lives in an AWS account emulated by moto (on
    127.0.0.1, in this process, so that its health overrides apply); recorded with
    --cloud aws, account identifiers masked."""
    import aws_scenarios

    chosen = [aws_scenarios.BY_NAME[n] for n in names]
    if not chosen:
        return
    with controlplane.ControlPlane() as cp:
        scenarios.prepare(cp, "aws-cloud")
        with aws_scenarios.world(cp) as w:
            for sc in chosen:
                overrides = aws_scenarios.run(w, sc)
                out = ROOT / "svcdoctor" / "recordings" / f"{sc.name}.yaml"
                with aws_scenarios.reading(w, sc, overrides) as cloud_env:
                    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), **cloud_env}
                    subprocess.run(["svcdoctor", "record", f"svc/{sc.service}", "-n", sc.namespace, "-o", str(out),
                                    "--force", "--description", sc.description, "--no-probe", "--cloud", "aws"],
                                   check=True, env=env)
                n = finish(out, sc.expect, f"kube-apiserver {controlplane.K8S_VERSION} + kwok "
                           f"{controlplane.KWOK_VERSION}, AWS emulated by moto (scripts/record-scenarios.py)",
                           "recorded on a control plane without a data plane (kwok): not probed")
                print(f"{sc.name}: {n} objects, expect {sc.expect or 'no findings'}")


def record_standin(module_name: str, cluster: str, api: str, names: list[str]) -> None:
    """Services whose load balancer lives in GCP or Azure, the cloud's API played by a
    stand-in on 127.0.0.1 (tests/gcp_server.py, tests/azure_server.py); the cloud detected
    from the nodes' providerID, as for a user."""
    import importlib
    import tempfile

    mod = importlib.import_module(module_name)
    chosen = [mod.BY_NAME[n] for n in names]
    if not chosen:
        return
    with controlplane.ControlPlane() as cp, tempfile.TemporaryDirectory() as tmp:
        scenarios.prepare(cp, cluster)
        with mod.world(cp, Path(tmp)) as w:
            for sc in chosen:
                overrides = mod.run(w, sc)
                out = ROOT / "svcdoctor" / "recordings" / f"{sc.name}.yaml"
                env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), **w.env()}
                with w.health(overrides):
                    subprocess.run(["svcdoctor", "record", f"svc/{sc.service}", "-n", sc.namespace, "-o", str(out),
                                    "--force", "--description", sc.description, "--no-probe"], check=True, env=env)
                n = finish(out, sc.expect, f"kube-apiserver {controlplane.K8S_VERSION} + kwok "
                           f"{controlplane.KWOK_VERSION}, {api} played by tests/{module_name.split('_')[0]}_server.py "
                           "(scripts/record-scenarios.py)",
                           "recorded on a control plane without a data plane (kwok): not probed")
                print(f"{sc.name}: {n} objects, expect {sc.expect or 'no findings'}")


def record(cp: controlplane.ControlPlane, sc: scenarios.Scenario) -> None:
    scenarios.run(cp, sc)
    out = ROOT / "svcdoctor" / "recordings" / f"{sc.name}.yaml"
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
    subprocess.run(["svcdoctor", "record", f"svc/{sc.service}", "-n", sc.namespace,
                    "-o", str(out), "--force", "--description", sc.description, "--no-probe", *sc.args],
                   check=True, env=env)
    # kwok runs no kube-proxy: there is no data plane to probe in this cluster.
    n = finish(out, sc.expect, f"kube-apiserver {controlplane.K8S_VERSION} + kwok "
               f"{controlplane.KWOK_VERSION}, scripts/record-scenarios.py",
               "recorded on a control plane without a data plane (kwok): not probed", sc.translation)
    print(f"{sc.name}: {n} objects, expect {sc.expect or 'no findings'}")


def main(names: list[str]) -> int:
    import aws_scenarios
    import azure_scenarios
    import gcp_scenarios
    import lab_scenarios

    unknown = [n for n in names if n not in lab_scenarios.BY_NAME and n not in scenarios.BY_NAME
               and n not in aws_scenarios.BY_NAME and n not in gcp_scenarios.BY_NAME
               and n not in azure_scenarios.BY_NAME]
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(unknown)}")
    lab_names = [n for n in names if n in lab_scenarios.BY_NAME] if names else list(lab_scenarios.BY_NAME)
    aws_names = [n for n in names if n in aws_scenarios.BY_NAME] if names else list(aws_scenarios.BY_NAME)
    gcp_names = [n for n in names if n in gcp_scenarios.BY_NAME] if names else list(gcp_scenarios.BY_NAME)
    azure_names = [n for n in names if n in azure_scenarios.BY_NAME] if names else list(azure_scenarios.BY_NAME)
    chosen = [scenarios.BY_NAME[n] for n in names if n in scenarios.BY_NAME] if names else scenarios.SCENARIOS
    record_lab(lab_names)
    record_aws(aws_names)
    record_standin("gcp_scenarios", "gcp-cloud", "the Compute API", gcp_names)
    record_standin("azure_scenarios", "azure-cloud", "Azure Resource Manager", azure_names)
    if not chosen:
        return 0
    # Scenarios with cluster-wide objects (MetalLB's CRDs, labelled nodes) get their own.
    for cluster in dict.fromkeys(sc.cluster for sc in chosen):
        with controlplane.ControlPlane() as cp:
            scenarios.prepare(cp, cluster)
            for sc in (s for s in chosen if s.cluster == cluster):
                record(cp, sc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
