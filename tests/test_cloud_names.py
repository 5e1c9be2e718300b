"""Reading the clouds' names back, from the shapes the clouds document (never an emulator's):
AWS hostnames from botocore's examples and AWS Load Balancer Controller issues, provider IDs
as cloud-provider-aws / -gcp / -azure write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svcdoctor.cloud import aws_names, azure, detect, gcp

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("host,name,region,kind,internal", [
    ("my-load-balancer-424835706.us-west-2.elb.amazonaws.com", "my-load-balancer", "us-west-2",
     "application-or-classic", False),                                     # botocore examples-1.json
    ("internal-my-internal-load-balancer-1529930873.us-west-2.elb.amazonaws.com", "my-internal-load-balancer",
     "us-west-2", "application-or-classic", True),
    ("k8s-psmdbope-testcfg0-96d90d83c4-38010c209bdf5a60.elb.us-east-1.amazonaws.com",
     "k8s-psmdbope-testcfg0-96d90d83c4", "us-east-1", "network", False),   # aws-load-balancer-controller#3324
    ("a3f2504e04f8911d39a0c0305e82c330-1234567890.eu-west-1.elb.amazonaws.com",
     "a3f2504e04f8911d39a0c0305e82c330", "eu-west-1", "application-or-classic", False),
])
def test_aws_hostnames(host, name, region, kind, internal):
    parsed = aws_names.parse_hostname(host)
    assert (parsed.name, parsed.region, parsed.kind, parsed.internal) == (name, region, kind, internal)


@pytest.mark.parametrize("host", ["web.example.com", "10.0.0.1", "a3f2-1.us-east-1.elb.amazonaws.com.evil.example"])
def test_not_an_aws_hostname(host):
    assert aws_names.parse_hostname(host) is None


def test_in_tree_name_is_a_plus_uid_cut_to_32():
    svc = {"metadata": {"uid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}}
    assert aws_names.default_name(svc) == "a3f2504e04f8911d39a0c0305e82c330"


@pytest.mark.parametrize("pid,iid,zone", [
    ("aws:///us-east-1a/i-0123456789abcdef0", "i-0123456789abcdef0", "us-east-1a"),
    ("aws:////i-0123456789abcdef0", "i-0123456789abcdef0", None),
    ("i-0123456789abcdef0", "i-0123456789abcdef0", None),
    ("aws:///us-east-1a/fargate-ip-10-0-1-12.ec2.internal", None, "us-east-1a"),
])
def test_aws_provider_ids(pid, iid, zone):
    assert aws_names.instance_id(pid) == iid and aws_names.zone(pid) == zone


def test_gcp_and_azure_provider_ids():
    assert gcp.parse_provider_id("gce://shop-prod-1234/us-central1-a/gke-shop-pool-1a2b-xk2p") == (
        "shop-prod-1234", "us-central1-a", "gke-shop-pool-1a2b-xk2p")
    assert gcp.parse_provider_id("gce://<masked>/us-central1-a/n1")[2] == "n1"   # a recording's, still usable
    assert azure.node_group("azure:///subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/"
                            "MC_shop_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/"
                            "aks-np-1-vmss/virtualMachines/3") == ("0b1f6471-1bf0-4dda-aec3-111122223333",
                                                                    "MC_shop_aks_westeurope")
    nodes = {"a": {"spec": {"providerID": "kwok://a"}}, "b": {"spec": {"providerID": "azure:///subscriptions/x"}}}
    assert detect(nodes) == "azure" and detect({"a": {"spec": {}}}) is None


def test_shipped_read_only_policies_name_only_reads():
    aws = json.loads((ROOT / "deploy" / "aws-iam-policy.json").read_text())
    actions = aws["Statement"][0]["Action"]
    assert all(a.split(":")[1].startswith("Describe") for a in actions)
    role = json.loads((ROOT / "deploy" / "azure-role.json").read_text())
    assert all(a.endswith("/read") or a.endswith("/health/action") for a in role["Actions"])
    import yaml
    gcp_role = yaml.safe_load((ROOT / "deploy" / "gcp-role.yaml").read_text())
    assert all(p.rsplit(".", 1)[1] in ("get", "list") for p in gcp_role["includedPermissions"])


def test_a_rule_per_subnet_admits_the_health_checks():
    """cloud-provider-aws adds one CIDR per load-balancer subnet; together they admit."""
    from svcdoctor.plugins.cloud_lb import _admits

    rule = {"protocol": "tcp", "from": 32000, "to": 32000, "cidrs": ["10.0.1.0/24", "10.0.2.0/24"]}
    assert _admits(rule, 32000, ["10.0.1.0/24", "10.0.2.0/24"], [])
    assert not _admits(rule, 32000, ["10.0.1.0/24", "10.0.3.0/24"], [])      # one subnet left out
    assert not _admits(rule, 32001, ["10.0.1.0/24"], [])
    assert _admits({"protocol": "-1", "cidrs": ["0.0.0.0/0"]}, 32001, ["10.0.1.0/24"], [])
    assert _admits({"protocol": "tcp", "from": 0, "to": 65535, "groups": ["sg-lb"]}, 80, [], ["sg-lb"])
    assert not _admits({"protocol": "udp", "from": 0, "to": 65535, "cidrs": ["0.0.0.0/0"]}, 80, ["10.0.1.0/24"], [])


def test_a_capped_health_read_never_claims_no_healthy_target():
    """A 200-node target pool: svcdoctor reads the health of 50 instances. If those 50 all
    fail, "no target is healthy" would be a guess about the other 150: it is not said, and
    the failing ones are still reported."""
    from svcdoctor.diagnose import diagnose
    from svcdoctor.sources.open import evidence_from_path

    ev = evidence_from_path(ROOT / "svcdoctor" / "recordings" / "gcp-netlb-firewall-missing.yaml", None, None)
    assert "lb-no-healthy-targets" in [f.id for f in diagnose(ev).findings]
    ev = evidence_from_path(ROOT / "svcdoctor" / "recordings" / "gcp-netlb-firewall-missing.yaml", None, None)
    ev.external["gcp"]["target_groups"][0]["unread"] = 150
    ids = [f.id for f in diagnose(ev).findings]
    assert "lb-no-healthy-targets" not in ids and {"lb-targets-unhealthy", "lb-security-group-blocks"} <= set(ids)
