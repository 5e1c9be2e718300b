"""An AWS account emulated by moto in server mode, on 127.0.0.1 only, built the way the
Kubernetes controllers build load balancers (../shared/reference/cloud-lb-state.md §1a):

* the in-tree / cloud-provider-aws controller names a Classic ELB or NLB ``a`` + the
  Service UID without dashes (32 characters), tags it ``kubernetes.io/service-name`` and
  ``kubernetes.io/cluster/<id>=owned``, registers the nodes on the NodePort, and adds the
  node security-group rule ``kubernetes.io/rule/nlb/health=<lb>`` from the subnets' CIDRs;
* the AWS Load Balancer Controller names them ``k8s-<ns>-<name>-<hash>`` and tags them
  ``service.k8s.aws/stack`` and ``elbv2.k8s.aws/cluster``.

svcdoctor reaches it through boto3 over HTTP (``AWS_ENDPOINT_URL``). Moto reports every
running registered target healthy; other health comes from stopping or deregistering
instances, or, where moto cannot emulate a state, from moto's own backend in-process
(:func:`target_health`), never by mocking boto3.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b")
VPC_CIDR = "10.0.0.0/16"
SUBNETS = {"us-east-1a": "10.0.1.0/24", "us-east-1b": "10.0.2.0/24"}
CLUSTER = "shop-prod"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "testing-secret",
               "AWS_DEFAULT_REGION": REGION}


@dataclass
class Account:
    """One emulated account: a VPC with a subnet per zone, a node security group, nodes."""

    endpoint: str
    vpc: str = ""
    subnets: dict[str, str] = field(default_factory=dict)      # zone → subnet id
    node_sg: str = ""
    spot_sg: str = ""      # the third node is in a second node group, with a security group of its own
    instances: list[dict[str, str]] = field(default_factory=list)   # {id, zone, ip}

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def env(self) -> dict[str, str]:
        """What a user's shell would have: credentials, region, and (here) the endpoint."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    @classmethod
    def create(cls, endpoint: str, nodes: int = 3) -> "Account":
        acct = cls(endpoint)
        ec2 = acct.client("ec2")
        acct.vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
        for z, cidr in SUBNETS.items():
            acct.subnets[z] = ec2.create_subnet(VpcId=acct.vpc, CidrBlock=cidr, AvailabilityZone=z)["Subnet"]["SubnetId"]
        acct.node_sg = ec2.create_security_group(GroupName=f"eks-cluster-sg-{CLUSTER}", Description="nodes",
                                                 VpcId=acct.vpc)["GroupId"]
        acct.spot_sg = ec2.create_security_group(GroupName=f"eks-nodegroup-spot-{CLUSTER}", Description="spot nodes",
                                                 VpcId=acct.vpc)["GroupId"]
        image = ec2.describe_images()["Images"][0]["ImageId"]
        for i in range(nodes):
            z = ZONES[i % len(ZONES)]
            inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large",
                                     SubnetId=acct.subnets[z],
                                     SecurityGroupIds=[acct.node_sg if i < 2 else acct.spot_sg])["Instances"][0]
            acct.instances.append({"id": inst["InstanceId"], "zone": z, "ip": inst["PrivateIpAddress"]})
        return acct

    def provider_id(self, i: int) -> str:
        inst = self.instances[i]
        return f"aws:///{inst['zone']}/{inst['id']}"

    def allow(self, port: int, cidr: str, description: str, groups: list[str] | None = None) -> None:
        """A rule in the nodes' security groups, as cloud-provider-aws adds it to each node's."""
        for group in groups or [self.node_sg, self.spot_sg]:
            self.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                "IpRanges": [{"CidrIp": cidr, "Description": description}]}])


def in_tree_name(uid: str) -> str:
    return ("a" + uid.replace("-", ""))[:32]


def lbc_name(ns: str, name: str, uid: str) -> str:
    digest = hashlib.sha256(f"{CLUSTER}{uid}internet-facing".encode()).hexdigest()[:10]
    return f"k8s-{ns[:8]}-{name[:8]}-{digest}"


def nlb_hostname(lb_name: str) -> str:
    """AWS's shape for an NLB's DNS name (moto's differs: never parse moto's)."""
    return f"{lb_name}-{hashlib.sha1(lb_name.encode()).hexdigest()[:16]}.elb.{REGION}.amazonaws.com"


def clb_hostname(lb_name: str) -> str:
    return f"{lb_name}-{int(hashlib.sha1(lb_name.encode()).hexdigest()[:8], 16)}.{REGION}.elb.amazonaws.com"


def in_tree_nlb(acct: Account, ns: str, name: str, uid: str, *, port: int, node_port: int,
                health: tuple[str, int, str] | None = None, register: list[int] | None = None,
                listener_port: int | None = None, health_rule: bool = True,
                rule_groups: list[str] | None = None) -> dict[str, str]:
    """The NLB cloud-provider-aws builds for a Service with aws-load-balancer-type: nlb
    (instance targets on the NodePort; HTTP health check on healthCheckNodePort for ETP Local)."""
    elbv2 = acct.client("elbv2")
    lb_name = in_tree_name(uid)
    tags = [{"Key": "kubernetes.io/service-name", "Value": f"{ns}/{name}"},
            {"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "owned"}]
    lb = elbv2.create_load_balancer(Name=lb_name, Type="network", Scheme="internet-facing",
                                    Subnets=list(acct.subnets.values()), Tags=tags)["LoadBalancers"][0]
    hc_proto, hc_port, hc_path = health or ("TCP", "traffic-port", "")
    tg_name = f"k8s-{ns[:8]}-{name[:8]}-{hashlib.sha1(f'{uid}{node_port}'.encode()).hexdigest()[:10]}"
    tg = elbv2.create_target_group(
        Name=tg_name, Protocol="TCP", Port=node_port, VpcId=acct.vpc, TargetType="instance",
        HealthCheckProtocol=hc_proto, HealthCheckPort=str(hc_port),
        **({"HealthCheckPath": hc_path} if hc_path else {}), Tags=tags)["TargetGroups"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=listener_port or port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}], Tags=tags)
    idx = range(len(acct.instances)) if register is None else register
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                           Targets=[{"Id": acct.instances[i]["id"], "Port": node_port} for i in idx])
    if health_rule:   # cloud-provider-aws: health checks from the LB subnets' CIDRs
        rule_port = node_port if hc_port == "traffic-port" else int(hc_port)
        for cidr in SUBNETS.values():
            acct.allow(rule_port, cidr, f"kubernetes.io/rule/nlb/health={lb_name}", rule_groups)
    return {"name": lb_name, "arn": lb["LoadBalancerArn"], "tg": tg["TargetGroupArn"], "hostname": nlb_hostname(lb_name)}


def lbc_nlb_ip(acct: Account, ns: str, name: str, uid: str, *, port: int, target_port: int,
               pod_ips: list[str]) -> dict[str, str]:
    """The NLB the AWS Load Balancer Controller builds for ip targets: named with the cluster
    in its hash (so only the hostname or tags find it), pods registered on their port."""
    elbv2 = acct.client("elbv2")
    lb_name = lbc_name(ns, name, uid)
    tags = [{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER}, {"Key": "service.k8s.aws/stack", "Value": f"{ns}/{name}"},
            {"Key": "service.k8s.aws/resource", "Value": "LoadBalancer"}]
    lb = elbv2.create_load_balancer(Name=lb_name, Type="network", Scheme="internet-facing",
                                    Subnets=list(acct.subnets.values()), Tags=tags)["LoadBalancers"][0]
    tg_name = f"k8s-{ns[:8]}-{name[:8]}-{hashlib.sha256(f'{uid}{port}ip'.encode()).hexdigest()[:10]}"
    tg = elbv2.create_target_group(Name=tg_name, Protocol="TCP", Port=target_port, VpcId=acct.vpc, TargetType="ip",
                                   HealthCheckProtocol="TCP", HealthCheckPort="traffic-port",
                                   Tags=[{"Key": "service.k8s.aws/resource", "Value": f"{ns}/{name}:{port}"},
                                         *tags[:2]])["TargetGroups"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": ip, "Port": target_port} for ip in pod_ips])
    return {"name": lb_name, "arn": lb["LoadBalancerArn"], "tg": tg["TargetGroupArn"], "hostname": nlb_hostname(lb_name)}


def in_tree_clb(acct: Account, ns: str, name: str, uid: str, *, port: int, node_port: int) -> dict[str, str]:
    """The Classic ELB cloud-provider-aws builds by default (TCP listener to the NodePort)."""
    elb = acct.client("elb")
    lb_name = in_tree_name(uid)
    elb.create_load_balancer(LoadBalancerName=lb_name, Subnets=list(acct.subnets.values()),
                             Listeners=[{"Protocol": "TCP", "LoadBalancerPort": port, "InstanceProtocol": "TCP",
                                         "InstancePort": node_port}],
                             Tags=[{"Key": "kubernetes.io/service-name", "Value": f"{ns}/{name}"},
                                   {"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "owned"}])
    elb.configure_health_check(LoadBalancerName=lb_name, HealthCheck={
        "Target": f"TCP:{node_port}", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 6, "HealthyThreshold": 2})
    elb.register_instances_with_load_balancer(LoadBalancerName=lb_name,
                                              Instances=[{"InstanceId": i["id"]} for i in acct.instances])
    return {"name": lb_name, "hostname": clb_hostname(lb_name)}


@contextlib.contextmanager
def target_health(states: dict[str, tuple[str, str, str]]) -> Iterator[None]:
    """Health moto cannot produce ("unhealthy", "initial", Target.NotInUse…), set in moto's
    own backend for these target ids: {id: (state, reason, description)}. In-process only."""
    from moto.elbv2 import models

    original = models.FakeTargetGroup.health_for

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original(self, target, ec2_backend)
        if target["Id"] in states:
            status.status, status.reason, status.description = states[target["Id"]]
        return status

    models.FakeTargetGroup.health_for = health_for
    try:
        yield
    finally:
        models.FakeTargetGroup.health_for = original
