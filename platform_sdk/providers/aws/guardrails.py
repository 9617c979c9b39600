"""AWS guardrails on the synthesized stacks: IAM least privilege, and which AWS resources carry the required tags."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk.rules import (
    ProductionAlarmsRouted,
    Rule,
    Violation,
    aliases_of,
    first_block,
    is_token,
    providers_of,
    read_stack,
    schema_types_with,
    stack_address,
    stack_resources,
)

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "aws.json"


def untagged(doc: Mapping[str, Any], required: list[str]) -> list[tuple[str, str, str]]:
    """(type, id, problem) for every taggable AWS resource without a required tag (its own or default_tags)."""
    blocks = providers_of(doc, "aws")
    if not blocks:
        return []
    defaults: dict[str, dict[str, Any]] = {}
    for block in blocks:
        tags = first_block(block.get("default_tags")).get("tags")
        defaults["aws." + block["alias"] if block.get("alias") else "aws"] = tags if isinstance(tags, dict) else {}
    taggable = schema_types_with(SCHEMA_FILE, "tags")
    found = []
    for rtype, rid, attrs in stack_resources(doc):
        if rtype not in taggable:
            continue
        own = attrs.get("tags")
        if is_token(own):
            continue  # computed tags: cannot be verified here
        tags = {**defaults.get(str(attrs.get("provider") or "aws"), {}), **(own or {})}
        missing = [k for k in required if k not in tags]
        if missing:
            found.append((rtype, rid, f"missing tags: {', '.join(missing)}"))
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
                return [self.violation(stack_address(stack, rtype, rid), f"attaches the broad managed policy {arn}",
                                       aliases=aliases_of(outdir, stack, rtype, rid))]
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
            return [self.violation(stack_address(stack, rtype, rid),
                                   "policy is not a literal JSON document, so it cannot be verified",
                                   fix="emit the policy as JSON (tokens inside strings are fine)",
                                   aliases=aliases_of(outdir, stack, rtype, rid))]
        return self._statements(outdir, stack, rtype, rid, statements)

    def _statements(self, outdir: Path, stack: str, rtype: str, rid: str,
                    statements: Iterable[dict[str, Any]]) -> list[Violation]:
        found = []
        for index, statement in enumerate(statements):
            for problem in statement_problems(statement):
                label = statement.get("Sid") or f"statement {index + 1}"
                found.append(self.violation(stack_address(stack, rtype, rid), f"{label}: {problem}",
                                            aliases=aliases_of(outdir, stack, rtype, rid)))
        return found


class AwsProductionAlarms(ProductionAlarmsRouted):
    """A Lambda function is routed when an aws_cloudwatch_metric_alarm on its FunctionName lists, in
    `alarm_actions`, an SNS topic (by ARN: Region and name) that some stack declares with a subscription.

    The platform's own helper functions are not the user's functions and carry no alarms of their own
    (`runs_user_code`)."""

    function_type = "aws_lambda_function"

    def runs_user_code(self, attrs: Mapping[str, Any]) -> bool:
        """Not one of the platform's own helpers (helpers.py: a CDN's payload-hash function, a database setup)."""
        from platform_sdk.providers.aws.helpers import helper_function

        return not helper_function(attrs)

    def routed(self, outdir: Path, docs: Mapping[str, Mapping[str, Any]], stack: str, rid: str,
               attrs: Mapping[str, Any]) -> bool:
        channels: set[tuple[str, str]] = set()  # (Region, topic name) of every topic with a subscription
        for doc in docs.values():
            home = next((str(b.get("region")) for b in providers_of(doc, "aws") if not b.get("alias")), "")
            topics = {tid: (str(body.get("region") or home), str(body.get("name")))
                      for rtype, tid, body in stack_resources(doc) if rtype == "aws_sns_topic"}
            for rtype, _, body in stack_resources(doc):
                topic = re.fullmatch(r"\$\{aws_sns_topic\.([\w-]+)\.arn\}", str(body.get("topic_arn", "")))
                if rtype == "aws_sns_topic_subscription" and topic and topic.group(1) in topics:
                    channels.add(topics[topic.group(1)])
        own = f"aws_lambda_function.{rid}."
        for rtype, _, body in stack_resources(docs.get(stack, {})):
            if rtype != "aws_cloudwatch_metric_alarm" or own not in str((body.get("dimensions") or {}).get(
                    "FunctionName", "")):
                continue
            for arn in _as_list(body.get("alarm_actions")):
                parts = str(arn).split(":")
                if len(parts) == 6 and parts[2] == "sns" and (parts[3], parts[5]) in channels:
                    return True
        return False
