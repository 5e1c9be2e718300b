"""Tier 3: the capture time of kubectl output, which kubectl does not write down.

A dump taken a while after MetalLB allocated an address that no speaker announced must
still show ``lb-ip-not-announced``: the objects are old, but the nodes' heartbeats in the
same dump say how late it was taken. Right after the allocation, when nothing in the dump
can tell, svcdoctor says what it could not verify instead of staying silent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import pytest

import controlplane
import scenarios
from test_controlplane import svcdoctor

GRACE_S = 60  # plugins/metallb.py ANNOUNCE_GRACE_S: how long speakers get to announce
KINDS = ("svc,endpointslices,endpoints,pods,events,nodes,"
         "ipaddresspools.metallb.io,l2advertisements.metallb.io,bgpadvertisements.metallb.io")


@pytest.fixture(scope="module")
def plane(cp):  # cp: a control plane can run here (or the tier skips / fails under CI)
    # Nodes post their status every 5 s, as kubelets without leases did (10 s), so the
    # heartbeats in a dump move on while nothing else in the namespace changes.
    with controlplane.ControlPlane(node_status_seconds=5) as plane:
        scenarios.prepare(plane, "metallb")
        yield plane


def _dump(plane, path) -> None:
    path.write_text(plane.kubectl("get", KINDS, "-A", "-o", "yaml").stdout)


def _heartbeats(plane) -> list[dt.datetime]:
    nodes = json.loads(plane.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return [dt.datetime.fromisoformat(c["lastHeartbeatTime"].replace("Z", "+00:00"))
            for n in nodes for c in n["status"]["conditions"] if c["type"] == "Ready"]


def _report(plane, path, *extra: str) -> dict:
    proc = svcdoctor("diagnose", "svc/intranet", "-n", "lan", "--from", str(path), "-o", "json", *extra)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return json.loads(proc.stdout)


def test_capture_time_from_node_heartbeats(plane, tmp_path):
    # metallb-speaker-silent, with the allocation happening now rather than 15 minutes ago
    base = scenarios.BY_NAME["metallb-speaker-silent"]
    sc = dataclasses.replace(base, setup=lambda cp, s: scenarios._wait_ready(cp, s, 2))
    scenarios.run(plane, sc)
    scenarios.metallb_allocates(plane, sc.namespace, sc.service, "198.51.100.243", "lan", ago_s=0)
    allocated = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    right_after = tmp_path / "right-after.yaml"
    _dump(plane, right_after)
    doc = _report(plane, right_after)
    ids = [f["id"] for f in doc["findings"]]
    assert "lb-ip-not-announced" not in ids  # nothing in the dump shows a minute has passed...
    (unsure,) = [f for f in doc["findings"] if f["id"] == "could-not-verify"
                 and "198.51.100.243" in f["facts"]["what"]]
    assert "--observed-at" in unsure["facts"]["reason"]  # ...and it says so, and what would tell
    assert "estimated from the newest timestamp" in doc["source"]

    # The user knows when the dump was taken: 20 minutes after the allocation.
    later = (allocated + dt.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = _report(plane, right_after, "--observed-at", later)
    assert "lb-ip-not-announced" in [f["id"] for f in doc["findings"]]
    assert not [f for f in doc["findings"] if f["id"] == "could-not-verify" and "198.51.100.243" in f["facts"]["what"]]

    # Wait for a heartbeat past the grace period (bounded), then dump again: nothing but the
    # nodes' status moved, and that is enough.
    deadline = time.monotonic() + GRACE_S + 60
    while max(_heartbeats(plane)) < allocated + dt.timedelta(seconds=GRACE_S + 2):
        assert time.monotonic() < deadline, "no node heartbeat past the grace period"
        time.sleep(2)
    later_dump = tmp_path / "later.yaml"
    _dump(plane, later_dump)
    doc = _report(plane, later_dump)
    (finding,) = [f for f in doc["findings"] if f["id"] == "lb-ip-not-announced"]
    assert finding["severity"] == "warning"
    assert "lastHeartbeatTime" in doc["source"]
