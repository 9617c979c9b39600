"""Guardrails: the platform team's rules, checked on every synth, waivable per resource until a date.

A rule checks either the neutral model (fast, before anything is built: placement, sizes, safety settings)
or the synthesized Terraform (what will really be deployed: tags, IAM policies). Each violation names the
rule, the resource, what is wrong and how to fix it, so an app team can act without asking.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk.errors import PlatformError

if TYPE_CHECKING:
    from platform_sdk.envs import Environment, Waiver
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


class GuardrailError(PlatformError):
    """Guardrail violations that no valid waiver covers. The CLI exits 2; nothing is written."""

    def __init__(self, violations: Sequence[Violation], file: str | Path | None = None) -> None:
        count = len(violations)
        lines = [f"{count} guardrail violation{'s' if count != 1 else ''}:"]
        lines += [f"  {v}".replace("\n", "\n  ") for v in violations]
        super().__init__("\n".join(lines), file=file,
                         hint="fix them, or waive one in the environment file: a `waivers` entry with rule, "
                              "resource, reason and expires")
        self.violations = list(violations)


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


# -- waivers -----------------------------------------------------------------------------------------------------

def _matches(waiver: Waiver, violation: Violation) -> bool:
    if not fnmatch.fnmatchcase(violation.rule, waiver.rule):
        return False
    return any(fnmatch.fnmatchcase(address, waiver.resource) for address in (violation.resource, *violation.aliases))


def apply_waivers(env: Environment, violations: Iterable[Violation], today: date | None = None) -> list[Violation]:
    """Mark violations covered by a waiver of the environment that has not expired (`expires` is inclusive).

    A matching waiver that has expired no longer suppresses anything: the violation stays, and says when the
    waiver expired, so the team sees why a synth that passed yesterday fails today.
    """
    today = today or date.today()
    result = []
    for violation in violations:
        matching = [w for w in env.waivers if _matches(w, violation)]
        valid = sorted((w for w in matching if w.expires >= today), key=lambda w: w.expires, reverse=True)
        expired = sorted((w for w in matching if w.expires < today), key=lambda w: w.expires, reverse=True)
        if valid:
            violation = replace(violation, waived_until=valid[0].expires, waiver_reason=valid[0].reason,
                                waiver_expired_on=None)
        elif expired:
            violation = replace(violation, waiver_expired_on=expired[0].expires)
        result.append(violation)
    return result


def unused_waivers(env: Environment, violations: Iterable[Violation]) -> list[Waiver]:
    """Waivers that match no violation: a typo in the rule or resource, or a problem that was fixed."""
    found = list(violations)
    return [w for w in env.waivers if not any(_matches(w, v) for v in found)]


def enforce(violations: Iterable[Violation], file: str | Path | None = None) -> None:
    """Raise GuardrailError listing every violation that no valid waiver covers."""
    failing = [v for v in violations if not v.waived]
    if failing:
        raise GuardrailError(failing, file=file)
