"""The AWS plug-in's environment-file sections: `[clouds.aws]` and the S3 state backend (`[state] backend = "s3"`).

Regions are checked against `regions.AWS_REGIONS`, and there is no default region: an environment names where its
stacks and its state live (a silent `us-east-1` once put a production estate in one Region and its state in another).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from platform_sdk.errors import did_you_mean
from platform_sdk.providers.aws.regions import AWS_REGIONS, SOURCE
from platform_sdk.providers.base import CloudConfig, Pattern, Setting, StateBackend

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
"""The retention periods CloudWatch Logs accepts (API_PutRetentionPolicy)."""
INSTANCE_CLASSES = {"small": "db.t4g.micro", "medium": "db.t4g.medium", "large": "db.r6g.large"}
"""RDS instance class per database size tier, unless `[sizes.database.<tier>] aws_instance_class` says otherwise."""

LOG_RETENTION = Setting(
    "log_retention_days", int, "Days CloudWatch Logs keeps the resource's logs (its function or database log "
    "groups).", default="the profile's log_retention_days (30)", unit="days", choices=LOG_RETENTION_DAYS,
    source="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html")
_ROLE_ARN = r"arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]+"
INVOKERS = Setting(
    "invokers", str, "IAM principals besides the granted functions that may call the function's http(auth=\"iam\") "
    "trigger (its function URL, signed with SigV4): role or user ARNs separated by spaces.", default="none",
    pattern=rf"{_ROLE_ARN}( {_ROLE_ARN})*", form="IAM role or user ARNs separated by spaces, e.g. "
    "arn:aws:iam::111111111111:role/ci",
    source="https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")
INSTANCE_CLASS = Setting(
    "aws_instance_class", str, "The RDS instance class of databases of this size tier.",
    default=", ".join(f"{tier}: {cls}" for tier, cls in INSTANCE_CLASSES.items()), pattern=r"db\.[a-z0-9]+\.[a-z0-9]+",
    form="an RDS instance class like db.t4g.micro",
    source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.html")


def check_region(value: str | None) -> str | None:
    """`value` if it is an AWS Region code (`regions.AWS_REGIONS`), else a pydantic error suggesting the closest."""
    if value is not None and value not in AWS_REGIONS:
        raise PydanticCustomError("aws_region", "unknown AWS Region{hint} (the Regions are listed at {source})",
                                  {"hint": did_you_mean(value, AWS_REGIONS), "source": SOURCE})
    return value


VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
SUBNET_ID = r"^subnet-[0-9a-f]{8,17}$"
VPC_WORDS = "a VPC id: vpc- and 8 to 17 hex digits, e.g. vpc-0a1b2c3d4e5f67890"
SUBNET_WORDS = "a subnet id: subnet- and 8 to 17 hex digits, e.g. subnet-0a1b2c3d"
ENDPOINT_SERVICES = ("s3", "secretsmanager", "sts")
"""The AWS APIs the runtime and the platform's database setup call from inside a VPC (`[clouds.aws.network]
endpoints` may say they are served there already)."""
NETWORK_DOCS = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html"


class AwsNetwork(BaseModel):
    """`[clouds.aws.network]`: the VPC where databases, and the functions that use them, run. Optional: without it
    the account's default VPC is used. What it says exists there is trusted as described (the conformance analysis
    names this section as the evidence); what it does not, the platform builds or refuses at synthesis."""

    model_config = ConfigDict(extra="forbid", strict=True)

    vpc_id: Annotated[str, Pattern(VPC_ID, VPC_WORDS)] | None = Field(
        None, description="The VPC to use, e.g. `vpc-0a1b2c3d4e5f67890`, with `subnet_ids`. Default: the account's "
        "default VPC (unless `default_vpc = false`).")
    subnet_ids: list[Annotated[str, Pattern(SUBNET_ID, SUBNET_WORDS)]] = Field(
        [], description="Private subnets of `vpc_id` for databases and functions: at least two, in different "
        "Availability Zones (RDS requires two). Required with `vpc_id`.")
    default_vpc: bool = Field(
        True, description="Whether the account has a default VPC the platform may use when `vpc_id` is not set. "
        "Accounts under an organisation baseline often have none: `false` makes synthesis refuse a database "
        "until `vpc_id` names a VPC.")
    endpoints: list[Literal["s3", "secretsmanager", "sts"]] = Field(
        [], description="VPC endpoints that already serve the subnets: gateway endpoints routed from their route "
        "tables, interface endpoints with private DNS admitting HTTPS from the VPC. The platform builds none for "
        "these (it builds what functions need otherwise: an S3 gateway endpoint, a Secrets Manager interface "
        "endpoint for the database setup).")
    nat: Literal["none", "existing", "create"] = Field(
        "none", description="Internet from inside the VPC, for functions that use a database and also reach "
        "another cloud or declare `internet=True` (a third-party API): `existing` (the subnets already route "
        "0.0.0.0/0 through a NAT gateway), `create` (the platform builds a NAT gateway in `nat_subnet_id` and "
        "routes `subnet_ids` through it; a NAT gateway is billed by the hour) or `none` (such functions are "
        f"refused). {NETWORK_DOCS}")
    nat_subnet_id: Annotated[str, Pattern(SUBNET_ID, SUBNET_WORDS)] | None = Field(
        None, description="A public subnet of `vpc_id` (its route table reaches an internet gateway) for the NAT "
        "gateway `nat = \"create\"` builds.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.vpc_id is not None and len(self.subnet_ids) < 2:
            raise PydanticCustomError("subnets_required", "subnet_ids must name at least two private subnets of "
                                      "vpc_id, in different Availability Zones (RDS requires two)")
        repeated = sorted({s for s in self.subnet_ids if self.subnet_ids.count(s) > 1})
        if repeated:
            raise PydanticCustomError("subnets_repeated", "subnet_ids names {subnets} more than once: name each "
                                      "private subnet once (a function needs subnets in two Availability Zones)",
                                      {"subnets": ", ".join(repeated)})
        if self.nat_subnet_id is not None and self.nat_subnet_id in self.subnet_ids:
            raise PydanticCustomError("nat_subnet_private", "nat_subnet_id {subnet} is one of subnet_ids: the NAT "
                                      "gateway needs a public subnet (a route to an internet gateway), the functions "
                                      "private ones routed through it", {"subnet": self.nat_subnet_id})
        if self.vpc_id is None and self.subnet_ids:
            raise PydanticCustomError("vpc_required", "subnet_ids needs vpc_id: name the VPC they belong to")
        if self.nat == "create" and (self.vpc_id is None or self.nat_subnet_id is None):
            raise PydanticCustomError("nat_subnet_required", "nat = \"create\" needs vpc_id, subnet_ids (private "
                                      "subnets the NAT serves) and nat_subnet_id (a public subnet for it): the "
                                      "default VPC has no private subnets to route through a NAT gateway")
        if self.nat_subnet_id is not None and self.nat != "create":
            raise PydanticCustomError("nat_subnet_unused", "nat_subnet_id is only used with nat = \"create\"")
        return self

    @property
    def usable(self) -> bool:
        """A VPC to run in: the named one, or the default VPC."""
        return self.vpc_id is not None or self.default_vpc

    @property
    def internet(self) -> bool:
        """Functions in the VPC reach the internet (and every public AWS endpoint) through a NAT gateway."""
        return self.nat != "none"


DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
"""A DNS name in lower case, without the trailing dot (`dev.example.com`)."""
DNS_NAME_WORDS = "a DNS name in lower case without the trailing dot, e.g. dev.example.com"
ZONE_ID_WORDS = "a Route 53 hosted zone id: Z and up to 31 capital letters or digits, e.g. Z0123456789ABCDEFGHIJ"


def zone_form(value: object) -> str:
    """Which form of `dns_zone` a value is written in: a table (`{ create = ... }`) or a name (anything else, so a
    wrong type is reported against the plain form)."""
    return "~table" if isinstance(value, (dict, BaseModel)) else "~name"


class AwsDnsZone(BaseModel):
    """`dns_zone = { ... }`: a Route 53 public hosted zone referenced by id with its DNS name, or created by the
    environment's AWS base stack."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: Annotated[str, Pattern(r"^Z[A-Z0-9]{1,31}$", ZONE_ID_WORDS)] | None = Field(
        None, description="An existing hosted zone's id, e.g. `Z0123456789ABCDEFGHIJ`, with `name`.")
    name: Annotated[str, Pattern(DNS_NAME, DNS_NAME_WORDS)] | None = Field(
        None, description="The DNS name of the zone `id` names, e.g. `example.com`: CDN domains must lie in it.")
    create: Annotated[str, Pattern(DNS_NAME, DNS_NAME_WORDS)] | None = Field(
        None, description="The DNS name of a public hosted zone the base stack creates, e.g. `dev.example.com`.")

    @model_validator(mode="after")
    def _one_zone(self) -> Self:
        if (self.id is None) == (self.create is None):
            raise PydanticCustomError("dns_zone_one", "dns_zone names one zone: { id = \"Z...\", name = "
                                      "\"example.com\" } (an existing hosted zone) or { create = "
                                      "\"dev.example.com\" } (the base stack creates it)")
        if self.id is not None and self.name is None:
            raise PydanticCustomError("dns_zone_name", "dns_zone = { id = ... } needs name = \"<the zone's DNS "
                                      "name>\" (or write the id alone: dns_zone = \"Z...\")")
        if self.create is not None and self.name is not None:
            raise PydanticCustomError("dns_zone_create_name", "dns_zone = { create = ... } names the zone itself: "
                                      "leave out name")
        return self


ZONE_WORDS = ('a Route 53 hosted zone id (Z..., e.g. Z0123456789ABCDEFGHIJ) or "external" (or a table: '
              '{ id = "Z...", name = "example.com" } or { create = "dev.example.com" })')
DnsZoneSetting = Annotated[Annotated[str, Pattern(r"^(Z[A-Z0-9]{1,31}|external)$", ZONE_WORDS), Tag("~name")]
                           | Annotated[AwsDnsZone, Tag("~table")], Discriminator(zone_form)]
"""`dns_zone`: a zone's name (or `external`), or the table form."""


class AwsConfig(CloudConfig):
    """Where AWS workloads go. `stand_in = "local"` compiles them to the local cloud (rehearsals)."""

    account: Annotated[str, Pattern(r"^\d{12}$", "a 12-digit AWS account id, e.g. 111111111111")] | None = Field(
        None, description="The 12-digit AWS account id the stacks deploy to. Default: the credentials' account.")
    region: str | None = Field(None, description="The AWS Region of every AWS stack, e.g. `eu-west-1`: one of the "
                               f"Regions at {SOURCE}. Required unless `stand_in` is set (no default).")
    endpoint: str | None = Field(None, description="An AWS-compatible API endpoint (tests: a moto server). Default: "
                                 "AWS itself.")
    network: AwsNetwork | None = Field(None, description="The VPC databases and the functions using them run in: "
                                       "`[clouds.aws.network]` (below). Default: the account's default VPC.")
    dns_zone: DnsZoneSetting | None = Field(
        None, description="Where the DNS names of this environment's AWS CDNs (`domain`) live: a Route 53 public "
        "hosted zone id like `Z0123456789ABCDEFGHIJ` (read as data by the base stack; the platform creates each "
        "certificate's validation record and the CDN's alias A/AAAA records in it, so the first apply completes), "
        "the same with its DNS name, `{ id = \"Z0123456789ABCDEFGHIJ\", name = \"example.com\" }` (then a CDN "
        "domain outside it is refused at synthesis), a zone the base stack creates, `{ create = "
        "\"dev.example.com\" }` (its name servers are printed after apply, to delegate it from the parent zone), "
        "or `external` (a zone elsewhere: the first apply requests the certificate and stops, printing the records "
        "to create; the next apply completes once they resolve). Default: none, like `external` but the apply waits "
        "for the records instead of stopping. "
        "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/AboutHZWorkingWith.html")

    _region = field_validator("region")(check_region)

    @model_validator(mode="after")
    def _region_required(self) -> Self:
        if self.stand_in is None and self.region is None:
            raise PydanticCustomError(
                "region_required", "region is required: name the AWS Region of this environment's stacks, "
                "e.g. region = \"eu-west-1\" (there is no default)")
        return self


class S3State(StateBackend):
    """Terraform's S3 backend with DynamoDB locking (`platform bootstrap` creates both)."""

    backend: Literal["s3"] = Field(description="Keep Terraform state in S3, locked with DynamoDB.")
    bucket: str = Field(description="The S3 bucket holding the state (globally unique name); `platform bootstrap` "
                        "creates it.")
    lock_table: str = Field(description="The DynamoDB table holding the locks; `platform bootstrap` creates it.")
    region: str = Field(description="The AWS Region of the state bucket and lock table, e.g. `eu-west-1`. Required "
                        "(no default).")
    key_prefix: str = Field("platform", description="Prefix of every state object's key "
                            "(`<key_prefix>/<env>/<stack>.tfstate`).")
    endpoint: str | None = Field(None, description="An S3-compatible endpoint (tests: a moto server).")

    _region = field_validator("region")(check_region)


def aws_config(env: object) -> AwsConfig | None:
    """The environment's `[clouds.aws]` section, None when it has none."""
    return env.clouds.get("aws")  # type: ignore[attr-defined,no-any-return]


def network_of(env: object) -> AwsNetwork:
    """The environment's `[clouds.aws.network]`, or its defaults (the default VPC, nothing existing, no NAT)."""
    aws = aws_config(env)
    return aws.network if aws is not None and aws.network is not None else AwsNetwork()
