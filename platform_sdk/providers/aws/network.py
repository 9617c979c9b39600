"""The VPC of databases and of the functions that use them: which VPC, what a function there reaches, and the
per-VPC prerequisites (S3 gateway endpoint, interface endpoints, NAT gateway) the environment's base stack builds
when the environment does not say they exist.

Which VPC: `[clouds.aws.network] vpc_id` + `subnet_ids` (trusted as described), else the account's default VPC;
an environment that says the account has none (`default_vpc = false`) and names none gets its databases refused
at placement (`problems`).

Why only some functions join it: a function in a VPC pays ENI setup and reaches only what the VPC offers, so only
functions granted an RDS database join it. From there each reaches exactly what its grants and the runtime need
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html):
- its databases' ports (the database side admits the function's security group);
- S3 for its bucket grants (`bucket("x")` calls), through the VPC's S3 gateway endpoint: security-group egress to
  the S3 prefix list (the gateway endpoint's `prefix_list_id`; `data.aws_ec2_managed_prefix_list` when the VPC's own
  endpoint serves, https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html), routed from the route
  tables of the function's subnets;
- the internet (a grant on another cloud: Google's token and storage APIs; a function declared `internet=True`: a
  third-party API its code calls) only through a NAT gateway the environment has or opts in to (`nat = "existing"`
  or `"create"`); without one such a function is refused at synthesis, naming the grant (federation.py) or the
  declaration (`internet_refusal`);
- the AWS APIs of its other grants through interface endpoints of the VPC: Secrets Manager for `reads(secret)`,
  SQS for `sends(queue)`, Lambda for `invokes(function)`
  (https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html): security-group egress
  to the endpoint's security group, and that group's ingress from the function's; or through the NAT gateway or the
  VPC's own endpoints when the environment says it has them;
- nothing else: database credentials are IAM tokens the runtime signs locally (no API call; dbsetup.py).
The database setup function (dbsetup.py) also reaches Secrets Manager (the master secret) the same way.

Shared prerequisites have one owner, the environment's AWS base stack (`<env>-base-<cloud>`, `compile_base`): a
route table holds one route per prefix list, so the S3 gateway endpoint must be one per VPC; an interface
endpoint's private DNS name is one per VPC; a NAT gateway serves the whole VPC. Service stacks ask for them
(`ctx.needs`, kinds `NEED_ENDPOINT` and `NEED_NAT`: the union over the environment's VPC functions, each built
once) and reference what they need of them through the base stack's outputs (remote state, `base_ref`): the S3
endpoint's prefix list id, each interface endpoint's security group and DNS name. A deployed base stack keeps
what it built while the environment exists, so moving or removing one service never takes an endpoint from
another (platform_sdk.providers.base.BaseNeeds). What `[clouds.aws.network]` says exists is trusted and not built.
Two environments of the project in one VPC would each build their own: synthesis refuses that before anything is
built (`check_shared_vpc`); one of the two declares the other's as existing (`endpoints = ["s3"]`,
`nat = "existing"`).

Why an interface endpoint's security group admits only the functions' security groups: least privilege (not the
VPC CIDR), and without a cycle: the ingress rule from a function's group lives in the function's stack (as the
database's does, `open_database`), so the base stack never references a service stack. Each rule counts against
the endpoint group's rule quota (60 inbound rules per group by default, https://docs.aws.amazon.com/vpc/latest/
userguide/amazon-vpc-limits.html#vpc-limits-security-groups): about 60 VPC functions per endpoint before the quota
must be raised.

Why the interface endpoints have no private DNS: AWS allows one endpoint per service with private DNS in a VPC, and
another environment (or a team's own endpoint) in the same VPC may hold it. A function gets each endpoint's own
DNS name in a variable (`ENDPOINT_SERVICES`: `PLATFORM_SECRETSMANAGER_ENDPOINT`, `PLATFORM_SQS_ENDPOINT`,
`PLATFORM_LAMBDA_ENDPOINT`), which the runtime's clients use as their endpoint URL.

Why standalone rules (`aws_vpc_security_group_ingress_rule`/`egress_rule`) instead of inline blocks: a function
stack can open the database's security group without owning it (the database may live in another stack), and
inline blocks would remove every rule they do not list on the next apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platform_sdk.cdk.document import StackDocument
from platform_sdk.cdk.expressions import Expression, Reference
from platform_sdk.cdk.raw import RawResource
from platform_sdk.errors import EnvironmentError_, PlacementError, PlatformError
from platform_sdk.model import Bucket, Database, Function, Grant
from platform_sdk.providers.aws.common import TARGET, policy_json, rid
from platform_sdk.providers.aws.config import AwsNetwork, aws_config, network_of
from platform_sdk.providers.aws.engines import ENGINES
from platform_sdk.providers.aws.observability import BASE_SERVICE
from platform_sdk.providers.aws.provider import region_of
from platform_sdk.providers.base import BaseNeeds, Handle, StackContext

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Resource, Service

# Lambda creates, describes and deletes its ENIs with the execution role. EC2 offers no resource-level scoping
# for these calls, so they need Resource "*". They are granted inline rather than through the AWS managed
# AWSLambdaVPCAccessExecutionRole, which would also let the role write to every log group in the account.
ENI_ACTIONS = sorted([
    "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
])
HTTPS_PORT = 443
ANYWHERE = "0.0.0.0/0"
SECRETS_ENDPOINT_ENV = "PLATFORM_SECRETSMANAGER_ENDPOINT"


# -- which VPC ---------------------------------------------------------------------------------------------------
@dataclass
class Vpc:
    """The VPC as this stack sees it: its data block, the subnets databases and functions use, one subnet per
    Availability Zone (interface endpoints take at most one), and what the environment says about it."""

    block: Any
    subnets: Any  # a token list (default VPC) or the environment's literal list
    zone_subnets: Any
    config: AwsNetwork

    def ref(self, attribute: str) -> str:
        return str(self.block.ref(attribute))


def vpc(ctx: StackContext) -> Vpc:
    """The environment's VPC, looked up once per stack (`[clouds.aws.network]`, else the default VPC).

    Raises PlatformError when there is none (placement refuses databases first, naming the environment file)."""
    def lookup() -> Vpc:
        config = network_of(ctx.env)
        if config.vpc_id is not None:
            block = ctx.data("aws_vpc", "platform_vpc", {"id": config.vpc_id})
            return Vpc(block, list(config.subnet_ids), list(config.subnet_ids), config)
        if not config.default_vpc:
            raise PlatformError(no_vpc_problem(), file=getattr(ctx.env, "file", None), key="clouds.aws.network")
        block = ctx.data("aws_vpc", "default_vpc", {"default": True})
        subnets = ctx.data("aws_subnets", "default_vpc_subnets",
                           {"filter": [{"name": "vpc-id", "values": [block.ref("id")]}]})
        zones = ctx.data("aws_subnets", "default_vpc_az_subnets", {
            "filter": [{"name": "vpc-id", "values": [block.ref("id")]},
                       {"name": "default-for-az", "values": ["true"]}],
        })
        return Vpc(block, subnets.get_list_attribute("ids"), zones.get_list_attribute("ids"), config)
    found: Vpc = ctx.once("aws:vpc", lookup)
    return found


def internet_problem(fn: Function, grant: Grant) -> str:
    verbs = {"read": "reads", "write": "writes", "readwrite": "reads_writes", "connect": "uses"}
    return (f"function {fn.address} runs in the VPC (it uses a database) and {verbs[grant.access]}("
            f"{grant.target.address}) on another cloud, whose APIs are on the internet: the VPC has no NAT gateway "
            "(set clouds.aws.network.nat to \"existing\" or \"create\", or split the function)")


def runs_in_vpc(env: Environment, fn: Function) -> bool:
    """Whether `fn` joins the VPC on AWS: it connects to a database `env` places on AWS itself (RDS)."""
    def target(resource: Resource) -> str:
        return env.target_of(env.cloud_of(resource.service.name if resource.service else "", resource.name))
    return any(grant.access == "connect" and isinstance(grant.target, Database) and target(grant.target) == TARGET
               for grant in fn.grants)


def internet_refusal(env: Environment, fn: Function) -> PlacementError | None:
    """The refusal of a function that declares `internet=True` and runs in the VPC (`runs_in_vpc`) of an environment
    with no NAT gateway (`[clouds.aws.network] nat = "none"`, the default): its calls to the internet would time out,
    a Lambda function in a VPC reaches the internet only through a NAT gateway
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html). Names the environment file,
    the key `clouds.aws.network.nat` and the function's declaration (file:line). None when it can reach it."""
    if not fn.internet or network_of(env).internet or not runs_in_vpc(env, fn):
        return None
    database = next(g.target for g in fn.grants if isinstance(g.target, Database))
    where = f" (declared at {fn.declared_in}:{fn.declared_line})" if fn.declared_in else ""
    return PlacementError(
        f"function {fn.address}{where} needs the internet (internet=True) and connects to database "
        f"{database.address}, so it runs in the VPC, which has no route to the internet (no NAT gateway): its "
        "calls to the internet would time out",
        file=getattr(env, "file", None), key="clouds.aws.network.nat", value=network_of(env).nat,
        hint="set clouds.aws.network.nat = \"existing\" (the subnets already route 0.0.0.0/0 through a NAT gateway) "
             "or \"create\" (with vpc_id, subnet_ids and nat_subnet_id), or move the internet calls to a function "
             "that uses no database")


def no_vpc_problem() -> str:
    return ("a VPC to run in: the environment says the account has no default VPC (clouds.aws.network.default_vpc "
            "= false) and names none (set clouds.aws.network.vpc_id and subnet_ids)")


# -- what a function in it needs ----------------------------------------------------------------------------------
def database_grants(grants: list[tuple[Grant, Handle]]) -> list[tuple[Database, Handle]]:
    """The RDS databases a function connects to (a database on another cloud is not reached through this VPC)."""
    found: list[tuple[Database, Handle]] = []
    for grant, handle in grants:
        if grant.access == "connect" and isinstance(grant.target, Database) and handle.target == TARGET:
            found.append((grant.target, handle))
    return found


def reaches_s3(grants: list[tuple[Grant, Handle]]) -> bool:
    """Its runtime calls S3 (`bucket("x")` on an AWS bucket)."""
    return any(isinstance(grant.target, Bucket) and handle.target == TARGET for grant, handle in grants)


def internet_grants(grants: list[tuple[Grant, Handle]]) -> list[Grant]:
    """Grants whose resource is on another cloud: the runtime calls that cloud's public APIs."""
    return [grant for grant, handle in grants if handle.target != TARGET]


@dataclass
class FunctionNetwork:
    """What compile_function adds to a function placed in the VPC."""

    vpc_config: dict[str, Any]
    policy_attachment: RawResource
    security_group: RawResource
    environment: dict[str, str] = field(default_factory=dict)


def _port(database: Database, handle: Handle) -> int | str:
    """The database's port: a number, or a reference (a profile module's output) Terraform resolves."""
    port = handle.attrs.get("port") or ENGINES[database.engine]["port"]
    return int(port) if str(port).isdigit() else str(port)


def _egress(ctx: StackContext, sg: RawResource, id: str, description: str, port: int | str, tags: dict[str, str],
            **destination: str) -> RawResource:
    return ctx.resource("aws_vpc_security_group_egress_rule", id, {
        "security_group_id": sg.ref("id"), "description": description, "ip_protocol": "tcp",
        "from_port": port, "to_port": port, **destination, "tags": tags,
    })


def s3_prefix_list(ctx: StackContext) -> str:
    """The id of the region's S3 prefix list (what a gateway endpoint routes): the base stack's gateway endpoint's
    `prefix_list_id`, asking the base stack for the endpoint; the list looked up by name when the VPC's own gateway
    endpoint serves (`endpoints = ["s3"]`)."""
    if "s3" not in vpc(ctx).config.endpoints:
        need_shared(ctx, "s3-gateway")
        return base_ref(ctx, f"aws_vpc_endpoint.{S3_GATEWAY}", "prefix_list_id")
    name = f"com.amazonaws.{region_of(ctx)}.s3"
    block = ctx.once("aws:s3_prefix_list", lambda: ctx.data("aws_ec2_managed_prefix_list", "s3", {"name": name}))
    return str(block.ref("id"))


def open_database(ctx: StackContext, owner: Function, sg: RawResource, database: Database, handle: Handle,
                  tags: dict[str, str], suffix: str = "") -> list[RawResource]:
    """Egress from `sg` to the database's port inside the VPC, and the database side's ingress from `sg`."""
    port = _port(database, handle)
    db_rid = rid(ctx, database, "db")
    label = port if isinstance(port, int) else database.name  # a module's port is a reference: not in an id
    rules = [ctx.once(f"aws:egress:{sg.fqn}:{port}", lambda: _egress(
        ctx, sg, rid(ctx, owner, f"{suffix}egress_{label}"), f"{database.engine} in the VPC", port, tags,
        cidr_ipv4=vpc(ctx).ref("cidr_block")))]
    db_sg = handle.attrs.get("security_group_id")
    if db_sg:  # a database from a profile module manages its own access
        rules.append(ctx.resource("aws_vpc_security_group_ingress_rule", rid(ctx, owner, f"{suffix}to_{db_rid}"), {
            "security_group_id": db_sg,
            "description": f"{database.engine} from {owner.address}{' (database setup)' if suffix else ''}",
            "ip_protocol": "tcp", "from_port": port, "to_port": port,
            "referenced_security_group_id": sg.ref("id"), "tags": tags,
        }))
    return rules


def eni_policy(ctx: StackContext, role: RawResource, id: str) -> RawResource:
    return ctx.resource("aws_iam_role_policy", id, {
        "name": "vpc-network-interfaces",
        "role": role.ref("id"),
        "policy": policy_json([{"Sid": "LambdaVpcNetworkInterfaces", "Effect": "Allow", "Action": ENI_ACTIONS,
                                "Resource": "*"}]),
    })


def attach_to_vpc(ctx: StackContext, fn: Function, role: RawResource, grants: list[tuple[Grant, Handle]],
                  tags: dict[str, str]) -> FunctionNetwork:
    """Security group (no ingress; egress to exactly what its grants need), the databases' and the interface
    endpoints' ingress from it, the ENI policy; asks the base stack for the shared prerequisites its grants need
    (S3 gateway endpoint, interface endpoints, NAT)."""
    net = vpc(ctx)
    sg = ctx.resource("aws_security_group", rid(ctx, fn, "sg"), {
        "name": f"{ctx.physical_name(fn)}-fn",
        "description": f"{fn.address}: no ingress; egress to its databases and the AWS APIs its grants use",
        "vpc_id": net.ref("id"),
        "tags": tags,
    })
    for database, handle in database_grants(grants):
        open_database(ctx, fn, sg, database, handle, tags)
    if reaches_s3(grants):
        _egress(ctx, sg, rid(ctx, fn, "egress_s3"), "HTTPS to S3 through the VPC's gateway endpoint", HTTPS_PORT,
                tags, prefix_list_id=s3_prefix_list(ctx))
    foreign = internet_grants(grants)
    if foreign or fn.internet:  # another cloud's APIs, or the function's own calls to the internet
        refusal = internet_refusal(ctx.env, fn)
        if refusal is not None:  # placement refuses these first (compiler.problems, federation.identity_literal)
            raise refusal
        if not net.config.internet:
            raise foreign[0].error(internet_problem(fn, foreign[0]), key=fn.address)
        ctx.once(f"aws:egress:{sg.fqn}:https:{ANYWHERE}", lambda: _egress(
            ctx, sg, rid(ctx, fn, "egress_internet"), "HTTPS to public APIs through the VPC's NAT gateway",
            HTTPS_PORT, tags, cidr_ipv4=ANYWHERE))
        need_shared(ctx, "nat")
    environment: dict[str, str] = {}
    for service in grant_services(grants):
        variables, _ = reach_service(ctx, sg, fn, tags, "", service)
        environment.update(variables)
    return FunctionNetwork(
        vpc_config={"subnet_ids": net.subnets, "security_group_ids": [sg.ref("id")]},
        policy_attachment=eni_policy(ctx, role, rid(ctx, fn, "vpc_access")),
        security_group=sg,
        environment=environment,
    )


# -- shared prerequisites: asked for by service stacks, built by the base stack ------------------------------------
NEED_ENDPOINT = "vpc-endpoint"
"""Base-stack need: a VPC endpoint, by service (`s3`: the gateway endpoint; `ENDPOINT_SERVICES`: interface ones)."""
NEED_NAT = "nat"
"""Base-stack need: the NAT gateway `nat = "create"` builds (value "create")."""
S3_GATEWAY = "s3_gateway"


def need_shared(ctx: StackContext, what: str) -> None:
    """Ask the base stack for a per-VPC prerequisite ("s3-gateway", "nat"): nothing when the environment says it
    exists (`endpoints = ["s3"]`, `nat = "existing"`)."""
    config = vpc(ctx).config
    if what == "s3-gateway" and "s3" not in config.endpoints:
        ctx.needs.add(NEED_ENDPOINT, "s3")
    if what == "nat" and config.nat == "create":
        ctx.needs.add(NEED_NAT, "create")


class BaseReference(Expression):
    """An attribute of a block of the environment's base stack, which is built after the service stacks (they say
    what they need while they compile): rendered, once every stack exists, as the base stack's output read
    through remote state (`StackDocument.remote`)."""

    def __init__(self, stack_name: str, fqn: str, attribute: str) -> None:
        self.stack_name = stack_name
        self.fqn = fqn
        self.attribute = attribute
        self._reference: Reference | None = None  # found on first render (one engine lookup)

    def render(self, scope: StackDocument) -> str:
        if self._reference is None:
            base = scope.stack.node.scope.node.try_find_child(self.stack_name)
            producer = StackDocument.of(base) if base is not None else None
            if producer is None or not any(block.fqn == self.fqn for block in producer.blocks):
                raise RuntimeError(f"stack {scope.path} references {self.fqn}.{self.attribute} of the base stack "
                                   f"{self.stack_name}, which does not build it: a need was not recorded")
            self._reference = Reference(producer, self.fqn, self.attribute)
        return self._reference.render(scope)


def base_ref(ctx: StackContext, fqn: str, attribute: str) -> str:
    """A reference to `fqn.attribute` of this environment's AWS base stack (`<env>-base-<cloud>`), one per stack."""
    name = f"{ctx.env.name}-{BASE_SERVICE}-{ctx.cloud}"
    marker: str = ctx.once(f"aws:base:{fqn}.{attribute}", lambda: BaseReference(name, fqn, attribute).marker())
    return marker


def compile_base(ctx: StackContext, needs: BaseNeeds) -> None:
    """In the base stack: every VPC endpoint and the NAT gateway the environment's service stacks asked for, once
    (interface endpoints with their own security group, which the functions' stacks open to their groups)."""
    if needs.of(NEED_NAT):
        ctx.once("aws:nat", lambda: _nat(ctx))
    for service in needs.of(NEED_ENDPOINT):
        if service == "s3":
            _s3_gateway(ctx)
        elif service in ENDPOINT_SERVICES:
            _interface_endpoint(ctx, service)


def _shared_name(ctx: StackContext, what: str) -> str:
    return f"{ctx.profile.physical_name(ctx.env, ctx.service.name, what)}"


def _route_tables(ctx: StackContext) -> Any:
    """The route tables of the functions' subnets: the platform's NAT route table when it builds one (the subnets
    are associated with it), else every route table of the VPC (the default VPC's main route table among them)."""
    net = vpc(ctx)
    if net.config.nat == "create":
        return [ctx.once("aws:nat", lambda: _nat(ctx)).ref("id")]
    tables = ctx.once("aws:route_tables", lambda: ctx.data("aws_route_tables", "vpc_route_tables",
                                                            {"vpc_id": net.ref("id")}))
    return tables.get_list_attribute("ids")


def _s3_gateway(ctx: StackContext) -> RawResource:
    """The VPC's S3 gateway endpoint, routed from the functions' subnets (gateway endpoints are free)."""
    net = vpc(ctx)
    return ctx.resource("aws_vpc_endpoint", S3_GATEWAY, {
        "vpc_id": net.ref("id"),
        "service_name": f"com.amazonaws.{region_of(ctx)}.s3",
        "vpc_endpoint_type": "Gateway",
        "route_table_ids": _route_tables(ctx),
        "tags": {"Name": _shared_name(ctx, "s3-gateway")},
    })


def _nat(ctx: StackContext) -> RawResource:
    """A NAT gateway in the public `nat_subnet_id` and a route table sending the private `subnet_ids` to it;
    returns the route table (the S3 gateway endpoint is routed from it too)."""
    net = vpc(ctx)
    name = _shared_name(ctx, "nat")
    tags = {"Name": name}
    address = ctx.resource("aws_eip", "nat_address", {"domain": "vpc", "tags": tags})
    gateway = ctx.resource("aws_nat_gateway", "nat", {
        "allocation_id": address.ref("id"), "subnet_id": net.config.nat_subnet_id, "tags": tags})
    table = ctx.resource("aws_route_table", "nat_routes", {"vpc_id": net.ref("id"), "tags": tags})
    ctx.resource("aws_route", "nat_default_route", {
        "route_table_id": table.ref("id"), "destination_cidr_block": ANYWHERE, "nat_gateway_id": gateway.ref("id")})
    for index, subnet in enumerate(net.config.subnet_ids):
        ctx.resource("aws_route_table_association", f"nat_subnet_{index + 1}", {
            "route_table_id": table.ref("id"), "subnet_id": subnet})
    return table


# -- interface endpoints of the AWS APIs a function's grants call --------------------------------------------------
ENDPOINT_SERVICES = {"secretsmanager": ("Secrets Manager", SECRETS_ENDPOINT_ENV),
                     "sqs": ("SQS", "PLATFORM_SQS_ENDPOINT"), "lambda": ("Lambda", "PLATFORM_LAMBDA_ENDPOINT")}
"""Interface endpoints the platform builds: service -> (its name in descriptions, the variable the runtime reads)."""

GRANT_SERVICES = {("secret", "read"): "secretsmanager", ("queue", "send"): "sqs", ("function", "invoke"): "lambda"}
"""(kind, access) of a same-cloud grant -> the AWS API its runtime client calls."""


def _interface_endpoint(ctx: StackContext, service: str) -> RawResource:
    """In the base stack: the interface endpoint of one AWS service and its security group, which admits nothing
    until a function's stack adds its ingress rule (`reach_service`)."""
    net = vpc(ctx)
    name = _shared_name(ctx, f"{service}-endpoint")
    tags = {"Name": name}
    sg = ctx.resource("aws_security_group", f"{service}_endpoint_sg", {
        "name": name,
        "description": f"{ENDPOINT_SERVICES[service][0]} endpoint: HTTPS from the functions that use it only",
        "vpc_id": net.ref("id"),
        "tags": tags,
    })
    return ctx.resource("aws_vpc_endpoint", f"{service}_endpoint", {
        "vpc_id": net.ref("id"),
        "service_name": f"com.amazonaws.{region_of(ctx)}.{service}",
        "vpc_endpoint_type": "Interface",
        "private_dns_enabled": False,  # one private-DNS endpoint per service per VPC: see the module docstring
        "subnet_ids": net.zone_subnets,
        "security_group_ids": [sg.ref("id")],
        "tags": tags,
    })


def builds_endpoint(ctx: StackContext, service: str) -> bool:
    """Whether the base stack builds `service`'s interface endpoint: not when the environment says the VPC has
    one (with private DNS: the default endpoint name resolves to it) or a NAT gateway reaches the public one."""
    return service not in vpc(ctx).config.endpoints and not vpc(ctx).config.internet


def reach_service(ctx: StackContext, sg: RawResource, owner: Function, tags: dict[str, str], suffix: str,
                  service: str) -> tuple[dict[str, str], list[RawResource]]:
    """`sg`'s way to one AWS API; returns the environment variables that point the runtime at it and the rules.

    The base stack's interface endpoint (asked for here): egress from `sg` to the endpoint's security group and
    that group's ingress from `sg`, both in this stack. Else HTTPS through the NAT gateway or to the VPC's own
    endpoint (one rule per security group and destination, shared by the services)."""
    if builds_endpoint(ctx, service):
        ctx.needs.add(NEED_ENDPOINT, service)
        label = ENDPOINT_SERVICES[service][0]
        endpoint_sg = base_ref(ctx, f"aws_security_group.{service}_endpoint_sg", "id")
        egress = ctx.resource("aws_vpc_security_group_egress_rule", rid(ctx, owner, f"{suffix}egress_{service}"), {
            "security_group_id": sg.ref("id"), "description": f"HTTPS to the VPC's {label} endpoint",
            "ip_protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT,
            "referenced_security_group_id": endpoint_sg, "tags": tags,
        })
        ingress = ctx.resource("aws_vpc_security_group_ingress_rule", rid(ctx, owner, f"{suffix}to_{service}"), {
            "security_group_id": endpoint_sg,
            "description": f"HTTPS from {owner.address}{' (database setup)' if suffix else ''}",
            "ip_protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT,
            "referenced_security_group_id": sg.ref("id"), "tags": tags,
        })
        dns = base_ref(ctx, f"aws_vpc_endpoint.{service}_endpoint", "dns_entry[0].dns_name")
        return {ENDPOINT_SERVICES[service][1]: f"https://{dns}"}, [egress, ingress]
    internet = vpc(ctx).config.internet
    if internet:
        need_shared(ctx, "nat")
    destination = ANYWHERE if internet else vpc(ctx).ref("cidr_block")
    rule: RawResource = ctx.once(f"aws:egress:{sg.fqn}:https:{destination}", lambda: _egress(
        ctx, sg, rid(ctx, owner, f"{suffix}egress_https"), "HTTPS to the AWS APIs (NAT or the VPC's endpoints)",
        HTTPS_PORT, tags, cidr_ipv4=destination))
    return {}, [rule]


def reach_secrets_manager(ctx: StackContext, sg: RawResource, owner: Function, tags: dict[str, str],
                          suffix: str) -> tuple[dict[str, str], list[RawResource]]:
    """`sg`'s way to Secrets Manager (see `reach_service`)."""
    return reach_service(ctx, sg, owner, tags, suffix, "secretsmanager")


def grant_services(grants: list[tuple[Grant, Handle]]) -> list[str]:
    """The AWS APIs (`ENDPOINT_SERVICES` keys) the runtime calls for the function's same-cloud grants, sorted."""
    return sorted({GRANT_SERVICES[(grant.target.kind, grant.access)] for grant, handle in grants
                   if handle.target == TARGET and (grant.target.kind, grant.access) in GRANT_SERVICES})


# -- one VPC, several environments ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SharedBuilds:
    """What one environment's AWS base stack builds in its VPC that another environment there must not build again.

    `vpc`: (account, Region, API endpoint or "", VPC id or "default"); `s3_gateway`: it builds the S3 gateway
    endpoint; `nat_subnets`: the subnets its NAT route table takes (empty: it builds no NAT gateway)."""

    vpc: tuple[str, str, str, str]
    s3_gateway: bool
    nat_subnets: frozenset[str]


def _aws_grants(env: Environment, services: list[Service]) -> list[list[tuple[Grant, Handle]]]:
    """The grants of every function `env` places on AWS, each with a bare handle saying where its resource is
    placed (enough for `database_grants`, `reaches_s3`: what decides which prerequisites a VPC function needs)."""
    def placed(resource: Resource) -> Handle:
        cloud = env.cloud_of(resource.service.name if resource.service else "", resource.name)
        return Handle(resource, cloud, env.target_of(cloud), "")
    return [[(grant, placed(grant.target)) for grant in fn.grants]
            for service in services for fn in service.of(Function) if placed(fn).target == TARGET]


def shared_builds(env: Environment, services: list[Service]) -> SharedBuilds | None:
    """What `env`'s AWS base stack builds in its VPC, decided from placements and grants as the compilers decide it
    (no synthesis): the S3 gateway endpoint when a VPC function reaches S3 and `endpoints` lacks "s3"; the NAT
    gateway with `nat = "create"` when there is a VPC function at all (each one's database setup reaches Secrets
    Manager through it). Interface endpoints are left out: built without private DNS (`_interface_endpoint`), they
    claim no name in the VPC (only a private-DNS one does: "private-dns-enabled cannot be set because there is
    already a conflicting DNS domain for <service> in the VPC",
    https://github.com/hashicorp/terraform-provider-aws/issues/17535). None when it builds neither, when AWS is
    not its target (a stand-in) or when its account is unknown (no `clouds.aws.account`: nothing to compare it
    with)."""
    aws = aws_config(env)
    if aws is None or aws.account is None or aws.region is None or env.target_of("aws") != TARGET:
        return None
    config = network_of(env)
    if not config.usable or not any(database_grants(grants) for grants in _aws_grants(env, services)):
        return None
    s3 = builds_s3_gateway(env, services)
    nat = frozenset(config.subnet_ids) if config.nat == "create" else frozenset()
    if not s3 and not nat:
        return None
    return SharedBuilds((aws.account, aws.region, aws.endpoint or "", config.vpc_id or "default"), s3, nat)


def builds_s3_gateway(env: Environment, services: list[Service]) -> bool:
    """Whether `env`'s AWS base stack builds the S3 gateway endpoint of its VPC: a function it places on AWS itself
    (not a stand-in) joins the VPC for a database and reaches S3, and `[clouds.aws.network] endpoints` lacks "s3".
    Unlike `shared_builds`, also when the account is not named (the credentials' account)."""
    config = network_of(env)
    if env.target_of("aws") != TARGET or not config.usable or "s3" in config.endpoints:
        return False
    return any(reaches_s3(grants) for grants in _aws_grants(env, services) if database_grants(grants))


def shared_conflicts(mine: SharedBuilds, theirs: SharedBuilds) -> list[tuple[str, str]]:
    """What two environments would both build in one VPC, which the second apply fails to create, each as (what,
    the `[clouds.aws.network]` setting that declares it existing):
    - the S3 gateway endpoint, unless each is routed from its own NAT route table (two NAT gateways for different
      subnets; with the same subnets one of the two must be declared existing): a route table holds one route
      per prefix list, so two gateway endpoints of one service need different route tables
      (https://docs.aws.amazon.com/vpc/latest/userguide/vpce-gateway.html). Without a NAT it is routed from every
      route table of the VPC (`_route_tables`), the other's NAT route table included;
    - the NAT gateway of the same subnets: a subnet is associated with one route table at a time
      (https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html).
    Empty when they are in different VPCs or share nothing."""
    if mine.vpc != theirs.vpc:
        return []
    found = []
    shared = sorted(mine.nat_subnets & theirs.nat_subnets)
    own_tables = bool(mine.nat_subnets and theirs.nat_subnets and not shared)  # two NATs for different subnets
    if mine.s3_gateway and theirs.s3_gateway and not own_tables:
        found.append(("the S3 gateway endpoint", 'endpoints = ["s3"]'))
    if shared:
        found.append((f"a NAT gateway for subnets {', '.join(shared)}", 'nat = "existing"'))
    return found


def vpc_description(builds: SharedBuilds) -> str:
    account, region, endpoint, vpc_id = builds.vpc
    where = "the default VPC" if vpc_id == "default" else f"VPC {vpc_id}"
    return f"{where} of account {account} in {region}" + (f" (endpoint {endpoint})" if endpoint else "")


def check_shared_vpc(env: Environment, services: list[Service], others: list[Environment]) -> None:
    """Refuse `env` when another environment of the project builds the same per-VPC prerequisite in its VPC
    (`shared_conflicts`): raises EnvironmentError_ naming `env`'s file and `clouds.aws.network`, what both build
    and the other environment's file. Environments whose account is unknown are not compared (`shared_builds`)."""
    mine = shared_builds(env, services)
    if mine is None:
        return
    for other in others:
        theirs = shared_builds(other, services)
        both = shared_conflicts(mine, theirs) if theirs is not None else []
        if both:
            raise EnvironmentError_(
                f"environment {env.name} builds {' and '.join(what for what, _ in both)} in {vpc_description(mine)}, "
                f"and so does environment {other.name} ({other.file}): the second one applied would fail",
                file=env.file, key="clouds.aws.network",
                hint=f"declare {'them' if len(both) > 1 else 'it'} existing in one of the two files, under "
                f"[clouds.aws.network]: {', '.join(setting for _, setting in both)} (that environment then relies "
                "on the other's)")
