"""The GCP plug-in's environment-file sections: `[clouds.gcp]` and the GCS state backend (`[state] backend = "gcs"`).

Regions are checked against `regions.GCP_REGIONS`, and there is no default region (see the AWS plug-in's config).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from platform_sdk.errors import did_you_mean
from platform_sdk.providers.base import CloudConfig, Pattern, Setting, StateBackend
from platform_sdk.providers.gcp.regions import GCP_REGIONS, SOURCE

TIERS = {"small": "db-custom-1-3840", "medium": "db-custom-2-7680", "large": "db-custom-4-15360"}
"""Cloud SQL machine tier per database size tier, unless `[sizes.database.<tier>] gcp_tier` says otherwise."""
DEFAULT_MAX_INSTANCES = 100

MAX_INSTANCES = Setting(
    "max_instances", int, "The most instances Cloud Functions runs of the function at once.",
    default=str(DEFAULT_MAX_INSTANCES), unit="instances", minimum=1, maximum=1000,
    source="https://cloud.google.com/functions/docs/configuring/max-instances")
_MEMBER = r"(serviceAccount|user|group):[A-Za-z0-9._%+@-]+"
INVOKERS = Setting(
    "invokers", str, "IAM members besides the granted functions that may call the function's http(auth=\"iam\") "
    "trigger (roles/run.invoker on its Cloud Run service): members like serviceAccount:ci@p.iam.gserviceaccount.com "
    "separated by spaces.", default="none", pattern=rf"{_MEMBER}( {_MEMBER})*",
    form="IAM members (serviceAccount:, user: or group: and an email) separated by spaces, e.g. "
    "serviceAccount:ci@p.iam.gserviceaccount.com",
    source="https://cloud.google.com/run/docs/securing/managing-access")
TIER = Setting(
    "gcp_tier", str, "The Cloud SQL machine tier of databases of this size tier.",
    default=", ".join(f"{size}: {tier}" for size, tier in TIERS.items()), pattern=r"db-[a-z0-9-]+",
    form="a Cloud SQL machine tier like db-custom-2-7680",
    source="https://cloud.google.com/sql/docs/postgres/instance-settings")


DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
"""A DNS name in lower case, without the trailing dot (`dev.example.com`)."""
DNS_NAME_WORDS = "a DNS name in lower case without the trailing dot, e.g. dev.example.com"


def zone_form(value: object) -> str:
    """Which form of `dns_zone` a value is written in: a table (`{ create = ... }`) or a name (anything else, so a
    wrong type is reported against the plain form)."""
    return "~table" if isinstance(value, (dict, BaseModel)) else "~name"


ZONE_WORDS = ("a Cloud DNS managed zone name: 2 to 63 lowercase letters, digits and '-', starting with a letter and "
              "not ending with '-', e.g. acme-dev")


class GcpDnsZone(BaseModel):
    """`dns_zone = { ... }`: a Cloud DNS public managed zone referenced by name with its DNS name, or created by the
    environment's GCP base stack."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: Annotated[str, Pattern(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$", ZONE_WORDS)] | None = Field(
        None, description="An existing managed zone's name in the project, e.g. `acme-dev`, with `name`.")
    name: Annotated[str, Pattern(DNS_NAME, DNS_NAME_WORDS)] | None = Field(
        None, description="The DNS name of the zone `id` names, e.g. `dev.example.com`: CDN domains must lie in it.")
    create: Annotated[str, Pattern(DNS_NAME, DNS_NAME_WORDS)] | None = Field(
        None, description="The DNS name of a public managed zone the base stack creates, e.g. `dev.example.com`.")

    @model_validator(mode="after")
    def _one_zone(self) -> Self:
        if (self.id is None) == (self.create is None):
            raise PydanticCustomError("dns_zone_one", "dns_zone names one zone: { id = \"acme-dev\", name = "
                                      "\"dev.example.com\" } (an existing managed zone) or { create = "
                                      "\"dev.example.com\" } (the base stack creates it)")
        if self.id is not None and self.name is None:
            raise PydanticCustomError("dns_zone_name", "dns_zone = { id = ... } needs name = \"<the zone's DNS "
                                      "name>\" (or write the zone's name alone: dns_zone = \"acme-dev\")")
        if self.create is not None and self.name is not None:
            raise PydanticCustomError("dns_zone_create_name", "dns_zone = { create = ... } names the zone itself: "
                                      "leave out name")
        return self


DNS_ZONE_WORDS = ('a Cloud DNS managed zone name (e.g. acme-dev) or "external" (or a table: '
                  '{ id = "acme-dev", name = "dev.example.com" } or { create = "dev.example.com" })')
DnsZoneSetting = Annotated[Annotated[str, Pattern(r"^([a-z][a-z0-9-]{0,61}[a-z0-9]|external)$", DNS_ZONE_WORDS),
                                     Tag("~name")]
                           | Annotated[GcpDnsZone, Tag("~table")], Discriminator(zone_form)]
"""`dns_zone`: a zone's name (or `external`), or the table form."""


PROJECT_WORDS = ("a Google Cloud project id: 6 to 30 lowercase letters, digits and '-', starting with a letter and "
                 "not ending with '-', e.g. acme-dev-123")
BILLING_WORDS = "a Cloud Billing account id: 3 groups of 6 capital hex digits joined by '-', e.g. 012345-6789AB-CDEF01"


class GcpConfig(CloudConfig):
    """Where GCP workloads go. `stand_in = "local"` compiles them to the local cloud (rehearsals)."""

    project: Annotated[str, Pattern(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", PROJECT_WORDS)] | None = Field(
        None, description="The Google Cloud project id the stacks deploy to. Default: the credentials' project.")
    region: str | None = Field(None, description="The Google Cloud region of every GCP stack, e.g. `europe-west1`: "
                               f"one of the regions at {SOURCE}. Required unless `stand_in` is set (no default).")

    billing_account: Annotated[str, Pattern(r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", BILLING_WORDS)] | None = Field(
        None, description="The Cloud Billing account paying for the project, e.g. `012345-6789AB-CDEF01`: where the "
        "environment's `[budget]` is created (google_billing_budget). Required with `[budget]` unless `stand_in` is "
        "set.")
    dns_zone: DnsZoneSetting | None = (
        Field(None, description="Where the DNS names of this environment's GCP CDNs (`domain`) live: the name of a "
              "Cloud DNS public managed zone in the project, like `acme-dev` (read as data by the base stack; the "
              "platform creates each CDN's A record to its load balancer address in it, and Google's managed "
              "certificate then provisions on its own), the same with its DNS name, `{ id = \"acme-dev\", name = "
              "\"dev.example.com\" }` (then a CDN domain outside it is refused at synthesis), a zone the base stack "
              "creates, `{ create = \"dev.example.com\" }` (its name servers are printed after apply, to delegate it "
              "from the parent zone), or `external` (a zone elsewhere: the first apply requests the certificate "
              "with a DNS authorization and stops, printing the records to create; the next apply completes once they "
              "resolve). Default: none (the A record to create is the stack output `cdn_<name>_dns_records`). "
              "https://cloud.google.com/dns/docs/zones"))

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value not in GCP_REGIONS:
            raise PydanticCustomError("gcp_region", "unknown Google Cloud region{hint} (the regions are listed at "
                                      "{source})", {"hint": did_you_mean(value, GCP_REGIONS), "source": SOURCE})
        return value

    @model_validator(mode="after")
    def _region_required(self) -> Self:
        if self.stand_in is None and self.region is None:
            raise PydanticCustomError(
                "region_required", "region is required: name the Google Cloud region of this environment's "
                "stacks, e.g. region = \"europe-west1\" (there is no default)")
        return self


class GcsState(StateBackend):
    """Terraform's GCS backend (object versioning on; `platform bootstrap` creates the bucket)."""

    backend: Literal["gcs"] = Field(description="Keep Terraform state in Cloud Storage.")
    bucket: str = Field(description="The Cloud Storage bucket holding the state (globally unique name); "
                        "`platform bootstrap` creates it in the `[clouds.gcp]` region.")
    prefix: str = Field("platform", description="Prefix of every state object (`<prefix>/<env>/<stack>`).")


def gcp_config(env: object) -> GcpConfig | None:
    """The environment's `[clouds.gcp]` section, None when it has none."""
    return env.clouds.get("gcp")  # type: ignore[attr-defined,no-any-return]
