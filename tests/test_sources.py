"""Offline sources: kubectl List / typed list / multi-document YAML / cluster-info dump,
and every way such input can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from svcdoctor.errors import NotFoundError, SourceError, UsageError
from svcdoctor.sources.open import evidence_from_path

ROOT = Path(__file__).resolve().parents[1]
TYPO = ROOT / "svcdoctor" / "recordings" / "selector-typo.yaml"


def typo_items() -> list[dict]:
    return yaml.safe_load(TYPO.read_text())["items"]


def test_kubectl_list_yaml(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": typo_items()}))
    ev = evidence_from_path(f, "web-api", "shop")
    assert str(ev.target) == "shop/web-api"
    assert {"Service", "Pod", "EndpointSlice", "Event", "Node"} <= ev.collected


def test_raw_typed_list_json_gets_kinds_back(tmp_path):
    """The API's own PodList has items without kind; the loader restores it."""
    items = typo_items()
    pods = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items if o["kind"] == "Pod"]
    others = [o for o in items if o["kind"] != "Pod"]
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": pods}) + "\n"
                 + json.dumps({"kind": "List", "apiVersion": "v1", "items": others}))
    ev = evidence_from_path(f, "web-api", None)  # namespace inferred: the name is unique
    assert len(ev.namespace_pods) == len(pods) == 3


def test_multi_document_yaml(tmp_path):
    f = tmp_path / "docs.yaml"
    f.write_text(yaml.safe_dump_all(typo_items()))
    assert evidence_from_path(f, "web-api", "shop").selector == {"app": "web-api"}


def test_cluster_info_dump_directory(tmp_path):
    """Layout of `kubectl cluster-info dump --output-directory`: nodes.json at the top,
    one folder per namespace with typed lists, plus container logs to ignore."""
    items = typo_items()
    by_kind: dict[str, list] = {}
    for o in items:
        by_kind.setdefault(o["kind"], []).append({k: v for k, v in o.items() if k != "kind"})
    (tmp_path / "nodes.json").write_text(json.dumps({"kind": "NodeList", "apiVersion": "v1",
                                                     "items": by_kind.pop("Node")}))
    ns = tmp_path / "shop"
    (ns / "web-1").mkdir(parents=True)
    (ns / "web-1" / "logs.txt").write_text("==== START logs ====\n{not json}\n")
    files = {"Service": "services.json", "Pod": "pods.json", "Event": "events.json",
             "EndpointSlice": "endpointslices.json"}
    for kind, objs in by_kind.items():
        (ns / files[kind]).write_text(json.dumps({"kind": f"{kind}List", "apiVersion": "v1", "items": objs}))
    ev = evidence_from_path(tmp_path, "web-api", "shop")
    assert len(ev.namespace_pods) == 3 and ev.nodes


def test_kind_absent_from_input_is_not_claimed_missing(tmp_path):
    from svcdoctor.diagnose import diagnose

    f = tmp_path / "svc-only.yaml"
    f.write_text(yaml.safe_dump_all([o for o in typo_items() if o["kind"] == "Service"]))
    report = diagnose(evidence_from_path(f, "web-api", "shop"))
    assert report.findings == []  # no pods in the input: no claim that none match
    unknown = " ".join(f.explanation for f in report.could_not_verify)
    assert "no Pod objects" in unknown and "no EndpointSlice objects" in unknown


@pytest.mark.parametrize("content, message", [
    ("apiVersion: v1\nkind: List\nitems: [\n", "not valid YAML"),
    ('{"kind": "List", "items": [', "not valid JSON"),
    ("just a string\n", "expected Kubernetes objects"),
    ("- {a: 1}\n", "no kind/metadata"),
    ("apiVersion: svcdoctor/v9\nkind: Recording\nmetadata: {}\nitems: []\n", "not supported"),
    ("apiVersion: svcdoctor/v1\nkind: Recording\nmetadata: {}\nitems: []\n", "corrupt recording"),
])
def test_bad_input_is_one_source_error(tmp_path, content, message):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    with pytest.raises(SourceError, match=message):
        evidence_from_path(f, "web", "shop")


def test_binary_and_missing_files(tmp_path):
    f = tmp_path / "blob.yaml"
    f.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(SourceError, match="not a text file"):
        evidence_from_path(f, "web", "shop")
    with pytest.raises(SourceError, match="no such file"):
        evidence_from_path(tmp_path / "nope.yaml", "web", "shop")


def test_not_found_suggests_close_names(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": typo_items()}))
    with pytest.raises(NotFoundError, match="namespace 'shpo' not found.*did you mean 'shop'"):
        evidence_from_path(f, "web-api", "shpo")
    with pytest.raises(NotFoundError, match="Service 'web-apj' not found.*did you mean 'web-api'"):
        evidence_from_path(f, "web-apj", "shop")


def test_recording_target_mismatch():
    with pytest.raises(UsageError, match="recording of shop/web-api"):
        evidence_from_path(TYPO, "other", "shop")
