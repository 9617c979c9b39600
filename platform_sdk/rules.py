"""What a guardrail is: a `Rule` finds `Violation`s in the neutral model or in the synthesized stacks.

The contract between the guardrails (platform_sdk.guardrails: rule sets, waivers, enforcement) and the cloud
plug-ins, which add their own rules (`CloudPlugin.stack_rules`). Low in the layers on purpose: it imports
nothing of the SDK but types, so plug-ins can subclass `Rule` and the guardrails can ask the plug-ins.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Resource, Service
    from platform_sdk.profile import Profile
    from platform_sdk.synth.placement import Placement


@dataclass
class Violation:
    """One broken rule on one resource. `resource` is `service.resource` (model rules) or
    `stack/type.id` (Terraform rules); `aliases` are other addresses a waiver may name it by."""

    rule: str
    resource: str
    message: str
    fix: str
    aliases: tuple[str, ...] = ()
    waived_until: date | None = None
    waiver_reason: str | None = None
    waiver_expired_on: date | None = None

    @property
    def waived(self) -> bool:
        return self.waived_until is not None

    @property
    def status(self) -> str:
        if self.waived:
            return f"waived until {self.waived_until.isoformat()}"  # type: ignore[union-attr]
        if self.waiver_expired_on is not None:
            return f"failed (waiver expired on {self.waiver_expired_on.isoformat()})"
        return "failed"

    def __str__(self) -> str:
        text = f"{self.rule}: {self.resource}: {self.message}"
        if self.waiver_expired_on is not None:
            text += f" (the waiver expired on {self.waiver_expired_on.isoformat()})"
        return f"{text}\n    fix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "resource": self.resource, "message": self.message, "fix": self.fix,
            "aliases": list(self.aliases), "status": "waived" if self.waived else "failed",
            "waived_until": self.waived_until.isoformat() if self.waived_until else None,
            "waiver_reason": self.waiver_reason,
            "waiver_expired_on": self.waiver_expired_on.isoformat() if self.waiver_expired_on else None,
        }


class Rule:
    """A guardrail. Subclasses set `id`, `description`, `fix` and override `check_model` and/or `check_stacks`.

    Rules are plain objects, so a platform team configures one by constructing it with parameters
    (`FunctionLimits(max_memory_mb=2048)`) and lists it in `Profile.guardrails`.
    """

    id: str = ""
    description: str = ""
    fix: str = ""

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        """Violations in the neutral model (before anything is synthesized)."""
        return []

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        """Violations in the synthesized stacks (`outdir/stacks/<name>/cdk.tf.json`)."""
        return []

    def violation(self, resource: str, message: str, fix: str | None = None,
                  aliases: Iterable[str] = ()) -> Violation:
        return Violation(self.id, resource, message, fix or self.fix, tuple(a for a in aliases if a != resource))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


# -- reading synthesized stacks ------------------------------------------------------------------------------------

def stack_file(outdir: Path, stack: str) -> Path:
    return outdir / "stacks" / stack / "cdk.tf.json"


@functools.lru_cache(maxsize=64)
def _read_json(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def read_stack(outdir: Path, stack: str) -> dict[str, Any]:
    """One synthesized stack's JSON (cached while the file is unchanged: every stack rule reads it)."""
    path = stack_file(outdir, stack)
    if not path.is_file():
        return {}
    info = path.stat()
    return _read_json(str(path), info.st_mtime_ns, info.st_size)


def stack_resources(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(type, id, attributes) of every resource of a stack."""
    for rtype, by_id in sorted((doc.get("resource") or {}).items()):
        for rid, attrs in sorted(by_id.items()):
            if isinstance(attrs, dict):
                yield rtype, rid, attrs


def providers_of(doc: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """Provider blocks of one provider (CDKTF writes a list per provider name)."""
    blocks = (doc.get("provider") or {}).get(name) or []
    return [b for b in (blocks if isinstance(blocks, list) else [blocks]) if isinstance(b, dict)]


def _stack_metadata(outdir: Path) -> dict[str, Any]:
    """Per-stack synth metadata (`platform.json`: resources, owners) when present."""
    path = outdir / "platform.json"
    if not path.is_file():
        return {}
    info = path.stat()
    return _read_json(str(path), info.st_mtime_ns, info.st_size).get("stacks") or {}


def neutral_address(outdir: Path, stack: str, tf_address: str) -> str | None:
    """The `service.resource` a Terraform resource (`type.id`) was compiled from.

    The synth metadata records each Terraform address's owner; without it, the construct id decides: compilers
    name constructs after the neutral resource (`thumbs_bucket`; another service's resource as `svc__name_...`),
    and the longest neutral name the id starts with wins.
    """
    meta = _stack_metadata(outdir).get(stack, {})
    owner = (meta.get("owners") or {}).get(tf_address)
    if owner:
        return str(owner)
    construct_id = tf_address.split(".")[-1]
    addresses = list(meta.get("resources") or [])
    own, _, rest = construct_id.partition("__")
    if rest:  # a resource of another service compiled into this stack
        candidates = [a for a in addresses if a.split(".", 1)[0] == own] or [f"{own}.{rest.split('_', 1)[0]}"]
        construct_id = rest
    else:
        candidates = addresses
    best = None
    for address in candidates:
        name = address.split(".", 1)[-1]
        fits = construct_id == name or construct_id.startswith((f"{name}_", f"{name}-"))
        if fits and (best is None or len(name) > len(best.split(".", 1)[-1])):
            best = address
    return best


def first_block(block: Any) -> dict[str, Any]:
    """A nested block as CDKTF writes it (an object, or a list of one) -> the object ({} when absent)."""
    if isinstance(block, list):
        block = block[0] if block else {}
    return block if isinstance(block, dict) else {}


def is_token(value: Any) -> bool:
    """A value Terraform computes (`${...}` inside): it cannot be verified before apply."""
    return isinstance(value, str) and "${" in value


def stack_address(stack: str, rtype: str, rid: str) -> str:
    """How a Terraform-rule violation names its resource: `stack/type.id`."""
    return f"{stack}/{rtype}.{rid}"


def aliases_of(outdir: Path, stack: str, rtype: str, rid: str) -> list[str]:
    """The neutral address as an alias, so a waiver may name `service.resource` instead of the Terraform address."""
    neutral = neutral_address(outdir, stack, f"{rtype}.{rid}")
    return [neutral] if neutral else []


@functools.lru_cache(maxsize=8)
def schema_types_with(schema_file: Path, attribute: str) -> frozenset[str]:
    """Resource types whose vendored provider schema (`schema_file`) has `attribute` (e.g. `tags`, `labels`)."""
    if not schema_file.is_file():
        return frozenset()
    resources = json.loads(schema_file.read_text()).get("resources", {})
    return frozenset(t for t, spec in resources.items() if attribute in spec.get("attributes", {}))


class ProductionAlarmsRouted(Rule):
    """In a protected (production) environment every function has at least one alarm that notifies the alert
    channel (issue 20: nobody learns of a failing production function otherwise).

    Neutral part of a check each cloud plug-in completes (`CloudPlugin.stack_rules`): it finds the plug-in's function
    resources (`function_type`) in the synthesized stacks and asks `routed` whether one of its alarms reaches a
    channel with at least one destination, as the JSON says (an alarm whose actions name no subscribed topic, or no
    notification channel, does not count). Every stack of the environment is read, because the channel lives in
    the base stack.
    """

    id = "function.production-alarms"
    description = "In a protected environment, every function has an alarm routed to the alert channel."
    fix = ("declare the alert channel in the environment file ([alerts] email = [\"...\"] or webhook = [\"https://"
           "...\"]) and keep the function's alarms on (no alarms=Alarms(enabled=False), not every threshold 0)")
    function_type: str = ""

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        if not env.protected or not self.function_type:
            return []
        stacks_dir = outdir / "stacks"
        every = sorted(p.name for p in stacks_dir.iterdir() if (p / "cdk.tf.json").is_file()) \
            if stacks_dir.is_dir() else []
        docs = {name: read_stack(outdir, name) for name in every}
        found = []
        for stack in stack_names:
            for rtype, rid, attrs in stack_resources(docs.get(stack, {})):
                if rtype == self.function_type and self.runs_user_code(attrs) \
                        and not self.routed(outdir, docs, stack, rid, attrs):
                    found.append(self.violation(
                        stack_address(stack, rtype, rid),
                        f"function has no alarm that notifies an alert channel in protected environment {env.name!r}",
                        aliases=aliases_of(outdir, stack, rtype, rid)))
        return found

    def runs_user_code(self, attrs: Mapping[str, Any]) -> bool:
        """Whether the function (its Terraform attributes `attrs`) runs a team's code, which the rule watches; a
        plug-in returns False for a function the platform itself deploys as part of another resource (default: True)."""
        return True

    def routed(self, outdir: Path, docs: Mapping[str, Mapping[str, Any]], stack: str, rid: str,
               attrs: Mapping[str, Any]) -> bool:
        """Whether an alarm of function `rid` (in `stack`) notifies a channel with a destination."""
        raise NotImplementedError
