"""Network for functions that reach a database: the default VPC, one security group per function, and one
Secrets Manager interface endpoint per stack (plus SQS and Lambda endpoints when such a function sends to a queue or
invokes a function: it has no other way to their APIs).

Why only those functions: a function in a VPC has no internet (the platform builds no NAT) and pays ENI setup,
so only functions with a `connect` grant to an RDS database join the VPC. Inside it they reach exactly two
things: the database port, and HTTPS to the Secrets Manager endpoint (the managed master password).

Why the endpoint has no private DNS: AWS allows one endpoint per service with private DNS in a VPC, so a second
stack (another service with a database, another environment in the account, or the organisation's own endpoint)
would fail to create its own. Functions get the endpoint's own DNS name in `PLATFORM_SECRETSMANAGER_ENDPOINT`,
which the runtime's secret client uses as its endpoint URL.

Why standalone rules (`aws_vpc_security_group_ingress_rule`/`egress_rule`) instead of inline blocks: a function
stack can open the database's security group without owning it (the database may live in another stack), and
inline blocks would remove every rule they do not list on the next apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from platform_sdk.cdk.raw import RawResource
from platform_sdk.model import Database, Function, Grant
from platform_sdk.providers.aws.common import TARGET, policy_json, rid
from platform_sdk.providers.aws.engines import ENGINES
from platform_sdk.providers.aws.provider import region_of
from platform_sdk.providers.base import Handle, StackContext

# Lambda creates, describes and deletes its ENIs with the execution role. EC2 offers no resource-level scoping
# for these calls, so they need Resource "*". They are granted inline rather than through the AWS managed
# AWSLambdaVPCAccessExecutionRole, which would also let the role write to every log group in the account.
ENI_ACTIONS = sorted([
    "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
])
HTTPS_PORT = 443
SECRETS_ENDPOINT_ENV = "PLATFORM_SECRETSMANAGER_ENDPOINT"


def default_vpc(ctx: StackContext) -> tuple[Any, Any]:
    """The default VPC and its subnets, looked up once per stack (the platform creates no network of its own)."""
    def lookup() -> tuple[Any, Any]:
        vpc = ctx.data("aws_vpc", "default_vpc", {"default": True})
        subnets = ctx.data("aws_subnets", "default_vpc_subnets",
                           {"filter": [{"name": "vpc-id", "values": [vpc.ref("id")]}]})
        return vpc, subnets
    return ctx.once("aws:default_vpc", lookup)


def _default_az_subnets(ctx: StackContext) -> Any:
    """The default subnet of each availability zone: an interface endpoint takes at most one subnet per zone."""
    vpc, _ = default_vpc(ctx)
    return ctx.once("aws:default_vpc_az_subnets", lambda: ctx.data("aws_subnets", "default_vpc_az_subnets", {
        "filter": [{"name": "vpc-id", "values": [vpc.ref("id")]},
                   {"name": "default-for-az", "values": ["true"]}],
    }))


def _https_ingress_from_vpc(ctx: StackContext, sg: RawResource, id: str, description: str,
                            tags: dict[str, str]) -> RawResource:
    vpc, _ = default_vpc(ctx)
    return ctx.resource("aws_vpc_security_group_ingress_rule", id, {
        "security_group_id": sg.ref("id"),
        "description": description,
        "ip_protocol": "tcp",
        "from_port": HTTPS_PORT,
        "to_port": HTTPS_PORT,
        "cidr_ipv4": vpc.ref("cidr_block"),
        "tags": tags,
    })


ENDPOINT_SERVICES = {"secretsmanager": ("Secrets Manager", SECRETS_ENDPOINT_ENV),
                     "sqs": ("SQS", "PLATFORM_SQS_ENDPOINT"), "lambda": ("Lambda", "PLATFORM_LAMBDA_ENDPOINT")}
"""Interface endpoints the platform builds: service -> (its name in descriptions, the variable the runtime reads)."""


def secrets_endpoint(ctx: StackContext) -> RawResource:
    """The stack's Secrets Manager interface endpoint and its security group (HTTPS from the VPC), built once."""
    return interface_endpoint(ctx, "secretsmanager")


def interface_endpoint(ctx: StackContext, service: str) -> RawResource:
    """The stack's interface endpoint of one AWS service (`ENDPOINT_SERVICES`) and its security group, built once."""
    label = ENDPOINT_SERVICES[service][0]

    def build() -> RawResource:
        vpc, _ = default_vpc(ctx)
        name = ctx.profile.physical_name(ctx.env, ctx.service.name, f"{service}-endpoint")
        tags = {"Name": name}
        sg = ctx.resource("aws_security_group", f"{service}_endpoint_sg", {
            "name": name,
            "description": f"{label} endpoint of {ctx.service.name}: HTTPS from the VPC only",
            "vpc_id": vpc.ref("id"),
            "tags": tags,
        })
        _https_ingress_from_vpc(ctx, sg, f"{service}_endpoint_https", "HTTPS from the VPC", tags)
        return ctx.resource("aws_vpc_endpoint", f"{service}_endpoint", {
            "vpc_id": vpc.ref("id"),
            "service_name": f"com.amazonaws.{region_of(ctx)}.{service}",
            "vpc_endpoint_type": "Interface",
            "private_dns_enabled": False,  # one private-DNS endpoint per service per VPC: see the module docstring
            "subnet_ids": _default_az_subnets(ctx).get_list_attribute("ids"),
            "security_group_ids": [sg.ref("id")],
            "tags": tags,
        })
    return ctx.once(f"aws:{service}_endpoint", build)


def database_grants(grants: list[tuple[Grant, Handle]]) -> list[tuple[Database, Handle]]:
    """The RDS databases a function connects to (a database on another cloud is not reached through this VPC)."""
    found: list[tuple[Database, Handle]] = []
    for grant, handle in grants:
        if grant.access == "connect" and isinstance(grant.target, Database) and handle.target == TARGET:
            found.append((grant.target, handle))
    return found


@dataclass
class FunctionNetwork:
    """What compile_function adds to a function placed in the VPC."""

    vpc_config: dict[str, Any]
    policy_attachment: RawResource
    environment: dict[str, str] = field(default_factory=dict)


def _port(database: Database, handle: Handle) -> int:
    return int(handle.attrs.get("port") or ENGINES[database.engine]["port"])


def attach_to_vpc(ctx: StackContext, fn: Function, role: RawResource, databases: list[tuple[Database, Handle]],
                  tags: dict[str, str]) -> FunctionNetwork:
    """Security group (no ingress; egress to the database ports and HTTPS inside the VPC), the database side's
    ingress from it, the ENI policy, and the stack's Secrets Manager endpoint."""
    vpc, subnets = default_vpc(ctx)
    sg = ctx.resource("aws_security_group", rid(ctx, fn, "sg"), {
        "name": f"{ctx.physical_name(fn)}-fn",
        "description": f"{fn.address}: no ingress; egress to its databases and the VPC endpoints only",
        "vpc_id": vpc.ref("id"),
        "tags": tags,
    })
    ports = sorted({_port(database, handle) for database, handle in databases})
    for port in ports:
        ctx.resource("aws_vpc_security_group_egress_rule", rid(ctx, fn, f"egress_{port}"), {
            "security_group_id": sg.ref("id"),
            "description": f"databases on port {port}",
            "ip_protocol": "tcp",
            "from_port": port,
            "to_port": port,
            "cidr_ipv4": vpc.ref("cidr_block"),
            "tags": tags,
        })
    ctx.resource("aws_vpc_security_group_egress_rule", rid(ctx, fn, "egress_https"), {
        "security_group_id": sg.ref("id"),
        "description": "HTTPS to the VPC endpoints",
        "ip_protocol": "tcp",
        "from_port": HTTPS_PORT,
        "to_port": HTTPS_PORT,
        "cidr_ipv4": vpc.ref("cidr_block"),
        "tags": tags,
    })
    for database, handle in databases:
        db_sg = handle.attrs.get("security_group_id")
        if not db_sg:
            continue  # a database from a profile module manages its own access
        port = _port(database, handle)
        ctx.resource("aws_vpc_security_group_ingress_rule", rid(ctx, fn, f"to_{rid(ctx, database, 'db')}"), {
            "security_group_id": db_sg,
            "description": f"{database.engine} from {fn.address}",
            "ip_protocol": "tcp",
            "from_port": port,
            "to_port": port,
            "referenced_security_group_id": sg.ref("id"),
            "tags": tags,
        })
    attachment = ctx.resource("aws_iam_role_policy", rid(ctx, fn, "vpc_access"), {
        "name": "vpc-network-interfaces",
        "role": role.ref("id"),
        "policy": policy_json([{"Sid": "LambdaVpcNetworkInterfaces", "Effect": "Allow", "Action": ENI_ACTIONS,
                                "Resource": "*"}]),
    })
    services = ["secretsmanager"]
    kinds = {grant.target.kind for grant in fn.grants}
    services += [service for kind, service in (("queue", "sqs"), ("function", "lambda")) if kind in kinds]
    environment = {}
    for service in services:
        endpoint = interface_endpoint(ctx, service)
        environment[ENDPOINT_SERVICES[service][1]] = f"https://{endpoint.ref('dns_entry[0].dns_name')}"
    return FunctionNetwork(
        vpc_config={"subnet_ids": subnets.get_list_attribute("ids"), "security_group_ids": [sg.ref("id")]},
        policy_attachment=attachment,
        environment=environment,
    )
