"""Guardrails on the synthesized Terraform: what will really be deployed, whatever compiler or module built it."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk.guardrails.core import (
    Rule,
    Violation,
    neutral_address,
    providers_of,
    read_stack,
    stack_resources,
)

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "synth" / "schemas"
STANDARD_TAG_KEYS = ("managed-by", "environment", "service")


@functools.lru_cache(maxsize=4)
def _schema_types_with(schema: str, attribute: str) -> frozenset[str]:
    """Resource types whose vendored provider schema has `attribute` (`tags` on AWS, `labels` on GCP)."""
    path = SCHEMA_DIR / f"{schema}.json"
    if not path.is_file():
        return frozenset()
    resources = json.loads(path.read_text()).get("resources", {})
    return frozenset(t for t, spec in resources.items() if attribute in spec.get("attributes", {}))


def label_key(key: str) -> str:
    """A tag key as GCP accepts it as a label key (what `StackContext.labels` does)."""
    return re.sub(r"[^a-z0-9_-]", "-", key.lower())[:63]


def _first(block: Any) -> dict[str, Any]:
    if isinstance(block, list):
        block = block[0] if block else {}
    return block if isinstance(block, dict) else {}


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _address(stack: str, rtype: str, rid: str) -> str:
    return f"{stack}/{rtype}.{rid}"


def _aliases(outdir: Path, stack: str, rtype: str, rid: str) -> list[str]:
    """The neutral address as an alias, so a waiver may name `service.resource` instead of the Terraform address."""
    neutral = neutral_address(outdir, stack, f"{rtype}.{rid}")
    return [neutral] if neutral else []


class RequiredTags(Rule):
    """Cost allocation and ownership: every taggable resource carries the organisation's tags."""

    id = "tags.required"
    description = ("Every taggable AWS resource has the required tags (its own or the provider's default_tags); "
                   "every labelled GCP resource has them as labels.")
    fix = "tag through the profile (ctx.tags()/ctx.labels() in the compiler, or the provider's default tags)"

    def __init__(self, keys: Sequence[str] | None = None, standard: Sequence[str] = STANDARD_TAG_KEYS) -> None:
        self.keys = list(keys) if keys is not None else None  # None = the profile's required_tags
        self.standard = list(standard)

    def required(self, profile: Profile) -> list[str]:
        keys = self.keys if self.keys is not None else list(profile.required_tags)
        return list(dict.fromkeys([*self.standard, *keys]))

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        required = self.required(profile)
        if not required:
            return []
        found: list[Violation] = []
        for stack in stack_names:
            doc = read_stack(outdir, stack)
            found += self._aws(outdir, stack, doc, required)
            found += self._gcp(outdir, stack, doc, [label_key(k) for k in required])
        return found

    def _aws(self, outdir: Path, stack: str, doc: dict[str, Any], required: list[str]) -> list[Violation]:
        blocks = providers_of(doc, "aws")
        if not blocks:
            return []
        defaults: dict[str, dict[str, Any]] = {}
        for block in blocks:
            tags = _first(block.get("default_tags")).get("tags")
            defaults["aws." + block["alias"] if block.get("alias") else "aws"] = tags if isinstance(tags, dict) else {}
        taggable = _schema_types_with("aws", "tags")
        found = []
        for rtype, rid, attrs in stack_resources(doc):
            if rtype not in taggable:
                continue
            own = attrs.get("tags")
            if _is_token(own):
                continue  # computed tags: cannot be verified here
            tags = {**defaults.get(str(attrs.get("provider") or "aws"), {}), **(own or {})}
            missing = [k for k in required if k not in tags]
            if missing:
                found.append(self.violation(_address(stack, rtype, rid), f"missing tags: {', '.join(missing)}",
                                            aliases=_aliases(outdir, stack, rtype, rid)))
        return found

    def _gcp(self, outdir: Path, stack: str, doc: dict[str, Any], required: list[str]) -> list[Violation]:
        blocks = providers_of(doc, "google")
        if not blocks:
            return []
        defaults = _first(blocks).get("default_labels") or {}
        labelled = _schema_types_with("google", "labels")
        found = []
        for rtype, rid, attrs in stack_resources(doc):
            if rtype == "google_sql_database_instance":
                # default_labels do not reach Cloud SQL: its labels are settings.user_labels, set explicitly
                labels = _first(attrs.get("settings")).get("user_labels") or {}
            elif rtype in labelled:
                labels = {**defaults, **(attrs.get("labels") or {})}
            else:
                continue
            if _is_token(labels):
                continue
            missing = [k for k in required if k not in labels]
            if missing:
                where = "settings.user_labels" if rtype == "google_sql_database_instance" else "labels"
                found.append(self.violation(_address(stack, rtype, rid), f"missing {where}: {', '.join(missing)}",
                                            aliases=_aliases(outdir, stack, rtype, rid)))
        return found


# Actions AWS authorizes only on Resource "*" (no resource-level permissions): "*" is the only correct value.
RESOURCE_STAR_ONLY = frozenset({
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData", "sts:GetCallerIdentity",
})
BROAD_MANAGED_POLICY = re.compile(r":policy/(AdministratorAccess|PowerUserAccess|[A-Za-z0-9]*FullAccess)$")
# AWS managed policies functions commonly get, with their documented statements: checked like inline policies.
_LOGS_ANYWHERE = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
MANAGED_POLICY_STATEMENTS: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [{"Effect": "Allow", "Action": _LOGS_ANYWHERE, "Resource": "*"}],
    "AWSLambdaVPCAccessExecutionRole": [{"Effect": "Allow", "Resource": "*", "Action": [
        *_LOGS_ANYWHERE, "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]}],
}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def wildcard_resource(arn: str) -> bool:
    """`*`, or an ARN whose resource part is only a wildcard (`arn:aws:s3:::*`, `arn:aws:logs:*:*:*`)."""
    if arn == "*":
        return True
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[5] in ("*", "*/*")


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """What makes one IAM statement broader than least privilege (empty = fine). Deny statements are fine."""
    if statement.get("Effect", "Allow") != "Allow":
        return []
    problems = []
    for key in ("NotAction", "NotResource"):
        if key in statement:
            problems.append(f"uses {key} (grants everything not listed)")
    actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
    wild = [a for a in actions if "*" in a]
    if wild:
        problems.append(f"wildcard action {', '.join(sorted(wild))}")
    resources = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
    broad = [r for r in resources if wildcard_resource(r)]
    scoped = sorted(a for a in actions if a not in RESOURCE_STAR_ONLY)
    if broad and (scoped or not actions):
        problems.append(f"resource {', '.join(sorted(broad))} for {', '.join(scoped) or 'its actions'} "
                        "(name the ARN)")
    return problems


def _document_statements(text: Any) -> list[dict[str, Any]] | None:
    """Statements of a JSON policy string; None when it is not literal JSON (cannot be verified)."""
    if isinstance(text, dict):
        doc = text
    else:
        try:
            doc = json.loads(text)
        except (TypeError, ValueError):
            return None
    if not isinstance(doc, dict):
        return None
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, dict)]


class AwsIamLeastPrivilege(Rule):
    """Least privilege: a leaked function credential must reach only the resources its grants name."""

    id = "iam.no-wildcards"
    description = ("No AWS IAM policy allows a wildcard action, or Resource \"*\" where the ARN is known; no broad "
                   "AWS-managed policy is attached.")
    fix = "grant exact actions on exact ARNs (neutral grants do this: fn.reads(bucket), fn.uses(db))"

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        found: list[Violation] = []
        for stack in stack_names:
            doc = read_stack(outdir, stack)
            for rtype, rid, attrs in stack_resources(doc):
                found += self._resource(outdir, stack, rtype, rid, attrs)
            for rid, attrs in sorted(((doc.get("data") or {}).get("aws_iam_policy_document") or {}).items()):
                statements = [{"Effect": s.get("effect", "Allow"), "Action": s.get("actions"),
                               "Resource": s.get("resources"),
                               **({"NotAction": s["not_actions"]} if s.get("not_actions") else {}),
                               **({"NotResource": s["not_resources"]} if s.get("not_resources") else {})}
                              for s in _as_list(attrs.get("statement")) if isinstance(s, dict)]
                found += self._statements(outdir, stack, "data.aws_iam_policy_document", rid, statements)
        return found

    def _resource(self, outdir: Path, stack: str, rtype: str, rid: str, attrs: dict[str, Any]) -> list[Violation]:
        if rtype in ("aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"):
            return self._policy(outdir, stack, rtype, rid, attrs.get("policy"))
        if rtype == "aws_iam_role":
            found = []
            for inline in _as_list(attrs.get("inline_policy")):
                if isinstance(inline, dict) and inline.get("policy"):
                    found += self._policy(outdir, stack, rtype, rid, inline["policy"])
            return found
        if rtype in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
            arn = attrs.get("policy_arn")
            if not isinstance(arn, str):
                return []
            if BROAD_MANAGED_POLICY.search(arn):
                return [self.violation(_address(stack, rtype, rid), f"attaches the broad managed policy {arn}",
                                       aliases=_aliases(outdir, stack, rtype, rid))]
            known = MANAGED_POLICY_STATEMENTS.get(arn.rsplit("/", 1)[-1])
            if known:
                return [replace(v, message=f"managed policy {arn.rsplit('/', 1)[-1]}: {v.message}",
                                fix="grant the actions inline on the exact ARNs instead of attaching the managed "
                                    "policy (only actions without resource-level permissions may use *)")
                        for v in self._statements(outdir, stack, rtype, rid, known)]
        return []

    def _policy(self, outdir: Path, stack: str, rtype: str, rid: str, policy: Any) -> list[Violation]:
        statements = _document_statements(policy)
        if statements is None:
            return [self.violation(_address(stack, rtype, rid),
                                   "policy is not a literal JSON document, so it cannot be verified",
                                   fix="emit the policy as JSON (tokens inside strings are fine)",
                                   aliases=_aliases(outdir, stack, rtype, rid))]
        return self._statements(outdir, stack, rtype, rid, statements)

    def _statements(self, outdir: Path, stack: str, rtype: str, rid: str,
                    statements: Iterable[dict[str, Any]]) -> list[Violation]:
        found = []
        for index, statement in enumerate(statements):
            for problem in statement_problems(statement):
                label = statement.get("Sid") or f"statement {index + 1}"
                found.append(self.violation(_address(stack, rtype, rid), f"{label}: {problem}",
                                            aliases=_aliases(outdir, stack, rtype, rid)))
        return found


BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PROJECT_IAM_TYPES = ("google_project_iam_member", "google_project_iam_binding")


class GcpScopedRoles(Rule):
    """GCP least privilege: storage access is bound on the one bucket, and basic roles are never granted."""

    id = "iam.gcp-scoped-roles"
    description = "No storage role is bound on a GCP project (bind it on the bucket); no basic role is granted."
    fix = "bind roles/storage.* with google_storage_bucket_iam_member on the bucket; use predefined roles"

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        found: list[Violation] = []
        for stack in stack_names:
            for rtype, rid, attrs in stack_resources(read_stack(outdir, stack)):
                if not rtype.startswith("google_") or not rtype.endswith(("_iam_member", "_iam_binding")):
                    continue
                role = attrs.get("role")
                if not isinstance(role, str):
                    continue
                address, aliases = _address(stack, rtype, rid), _aliases(outdir, stack, rtype, rid)
                if rtype in PROJECT_IAM_TYPES and role.startswith("roles/storage."):
                    found.append(self.violation(address, f"{role} is bound on the whole project",
                                                aliases=aliases))
                if role in BASIC_ROLES:
                    found.append(self.violation(address, f"grants the basic role {role}",
                                                fix="grant a predefined role for the one service it needs",
                                                aliases=aliases))
        return found


def default_stack_rules() -> list[Rule]:
    """Fresh instances of the standard Terraform rules."""
    return [RequiredTags(), AwsIamLeastPrivilege(), GcpScopedRoles()]
