"""Environment files (`envs/NAME.toml`) -> a validated Environment: clouds, placement, state backend, sizes.

The generic keys are validated here; each `[clouds.<name>]` section by its cloud plug-in's `config` model,
and a `[state]` section by the plug-in owning its `backend` (the local state file is built in).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import fields
from datetime import date
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin, get_type_hints

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from platform_sdk import providers
from platform_sdk.errors import EnvironmentError_, did_you_mean
from platform_sdk.model import KINDS
from platform_sdk.providers.base import CloudConfig, Pattern, StateBackend


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LocalState(StateBackend):
    """Terraform state in local files (`<path>/<env>/<stack>.tfstate`), the default."""

    backend: Literal["local"] = Field("local", description="Keep Terraform state in files of the project.")
    shared: ClassVar[bool] = False
    path: str = Field(".platform/state", description="Directory of the state files (`<path>/<env>/<stack>.tfstate`), "
                      "relative to the project.")


def _cloud_name(value: object) -> str:
    """A registered cloud's name, or a ValueError listing the known ones (pydantic reports it with its key)."""
    known = providers.names()
    if not isinstance(value, str) or value not in known:
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": " or ".join([", ".join(repr(n) for n in known[:-1]), repr(known[-1])])
                                   if len(known) > 1 else repr(known[0])})
    return value


CloudName = Annotated[str, BeforeValidator(_cloud_name)]


class Waiver(_Strict):
    """A guardrail exception: which rule, for which resource, why, until when."""

    rule: str = Field(description="The guardrail's id (`platform check` lists them), or a glob matching ids. "
                      "Must match a rule of the environment's rule set.")
    resource: str = Field(description="The resource's address `service.resource`, a Terraform address "
                          "`stack/type.id`, or a glob. Must match something in the estate.")
    reason: Annotated[str, Field(min_length=10, description="Why the exception is acceptable (10 characters "
                                 "at least).")]
    expires: date = Field(description="The last day the waiver counts (a TOML date, e.g. 2025-12-31); after it "
                          "the violation fails again.")


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
WEBHOOK_PATTERN = r"^https://[^\s/]+(/\S*)?$"


class Alerts(_Strict):
    """`[alerts]`: the environment's alert channel. Every alarm and budget alert of the environment notifies it.

    Built in each cloud's base stack: an SNS topic with one subscription per address (AWS; an email subscription
    must be confirmed from the mail AWS sends), a Cloud Monitoring notification channel per address (GCP). The
    local cloud has no alarms: the section is accepted and not used there.
    """

    email: list[Annotated[str, Pattern(EMAIL_PATTERN, "an email address, e.g. oncall@example.com")]] = Field(
        [], description="Email addresses alerts are sent to, e.g. `[\"oncall@example.com\"]`.")
    webhook: list[Annotated[str, Pattern(WEBHOOK_PATTERN, "an https:// URL, e.g. https://hooks.example.com/alerts")]] \
        = Field(
        [], description="HTTPS URLs alerts are posted to (an incident tool's webhook), e.g. "
        "`[\"https://hooks.example.com/alerts\"]`; `https://` only.")

    @model_validator(mode="after")
    def _one_at_least(self) -> Self:
        if not self.email and not self.webhook:
            raise ValueError("an alert channel needs at least one email address or webhook URL")
        return self


class Budget(_Strict):
    """`[budget]`: the environment's monthly budget, with alerts to the `[alerts]` channel at each threshold.

    One budget per cloud the environment uses, in its base stack, each covering that cloud's spend of the account
    (AWS Budgets) or project (a GCP billing budget on the billing account `clouds.gcp.billing_account` names,
    filtered to the project). The local cloud costs nothing: the section is accepted and not used there.
    """

    monthly: Annotated[int, Field(gt=0)] = Field(description="The monthly amount, in whole units of `currency` "
                                                 "(e.g. `500`), per cloud.")
    currency: Annotated[str, Pattern(r"^[A-Z]{3}$", "an ISO 4217 currency code: 3 capital letters, e.g. USD")] = Field(
        "USD", description="ISO 4217 code of the amount, e.g. `USD`; a GCP budget's currency must be the billing "
        "account's.")
    alerts_at: list[Annotated[int, Field(gt=0, le=1000)]] = Field(
        [50, 80, 100], description="Percentages of the monthly amount (actual spend) at which the channel is "
        "notified.")


NAME_PREFIX_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"
NAME_PREFIX_WORDS = "1 to 20 lowercase letters, digits and '-', starting with a letter, e.g. shop-x7k2"
ADDRESS_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")


class Environment(_Strict):
    """One environment: which cloud each workload lives on and how its state is kept."""

    name: Annotated[str, Pattern(r"^[a-z][a-z0-9-]{0,15}$", "1 to 16 lowercase letters, digits and '-', starting "
                                 "with a letter"),
                    Field(description="The environment's name: the file name without `.toml` (1-16 lowercase letters, "
                          "digits and '-').")] = "dev"
    file: Path | None = Field(None, exclude=True)
    protected: bool = Field(False, description="Production: moves keep the source copy until `--remove-source`, "
                            "and the production guardrails apply.")
    ephemeral: bool = Field(False, description="A throwaway environment (a feature branch, a test run): every "
                            "stateful resource is deletable (databases without deletion protection, buckets with "
                            "force_destroy), so `platform destroy --allow-data-loss` removes everything in one "
                            "command. Cannot be combined with `protected`.")
    name_prefix: Annotated[str, Pattern(NAME_PREFIX_PATTERN, NAME_PREFIX_WORDS),
                           Field(description="First part of every physical "
                                      "name (`<name_prefix>-<env>-<service>-<resource>`). Bucket names are "
                                      "global, so make it unique to your organisation and project. Required (no "
                                      "default); `platform init` derives one, and `platform env new` keeps its "
                                      "source's.")]
    default_cloud: CloudName = Field(default_factory=providers.default_cloud,
                                     description="The cloud of every workload `[placement]` does not name.")
    clouds: dict[str, CloudConfig] = Field({}, description="One section per cloud: `[clouds.<name>]`.")
    placement: dict[str, CloudName] = Field({}, description="`\"service\"` or `\"service.resource\"` -> cloud; "
                                            "the most specific key wins.")
    state: StateBackend = Field(LocalState(), description="Where Terraform state is kept: `backend` picks the "
                                "section's model.")
    sizes: dict[str, dict[str, dict[str, Any]]] = Field(
        {}, description="`[sizes.<kind>.<tier>]`: what a size tier means on each cloud (keys from the plug-ins).")
    renames: dict[str, str] = Field(
        {}, description="`[renames]`: `\"service.old\" = \"service.new\"` for a resource renamed in the code: it keeps "
        "its physical name and its deployed object moves to the new address instead of being destroyed and created "
        "(like `renamed_from=` on the resource). Within one service only.")
    overrides: dict[str, dict[str, Any]] = Field(
        {}, description="`[overrides.\"service.resource\"]`: this environment's values for a resource's settings.")
    profile: str | None = Field(None, description="The platform team's profile: `path/to/file.py:NAME` or "
                                "`package.module:NAME`. Default: the built-in standards.")
    waivers: list[Waiver] = Field([], description="`[[waivers]]`: guardrail exceptions with a reason and an "
                                  "expiry date.")
    alerts: Alerts | None = Field(None, description="`[alerts]`: the alert channel every alarm and budget alert "
                                  "notifies (email addresses, HTTPS webhooks). Default: none (alarms exist but notify "
                                  "no one; a protected environment then fails `platform check`).")
    budget: Budget | None = Field(None, description="`[budget]`: a monthly budget per cloud with alerts at 50/80/100 "
                                  "% to the `[alerts]` channel, which it needs (refused without one). Default: none.")
    rehearses: str | None = Field(None, description="The environment this one rehearses (`rehearses = \"prod\"`): "
                                  "the name of another environment file. Synthesizing this environment also analyses "
                                  "the rehearsed environment's clouds with this environment's placement, and this "
                                  "environment's functions are refused at runtime, with the same message, every "
                                  "operation those clouds would refuse. Default: no rehearsal.")

    @field_validator("clouds", mode="before")
    @classmethod
    def _cloud_sections(cls, value: object) -> object:
        """Each `[clouds.<name>]` section through its plug-in's own model."""
        if not isinstance(value, dict):
            return value
        sections: dict[str, object] = {}
        for name, section in value.items():
            _cloud_name(name)
            config = providers.plugin(name).config
            sections[name] = section if isinstance(section, config) else config.model_validate(section)
        return sections

    @field_validator("clouds")
    @classmethod
    def _stand_ins(cls, value: dict[str, CloudConfig]) -> dict[str, CloudConfig]:
        hosts = [name for name, found in providers.plugins().items() if found.hosts_stand_ins]
        for section in value.values():
            if section.stand_in is not None and section.stand_in not in hosts:
                raise ValueError(f"stand_in must name a cloud that hosts stand-ins ({', '.join(hosts)}), "
                                 f"got {section.stand_in!r}")
        return value

    @field_validator("state", mode="before")
    @classmethod
    def _state_backend(cls, value: object) -> object:
        """The `[state]` section through the model of the plug-in owning its backend."""
        if not isinstance(value, dict):
            return value
        return state_model(value.get("backend", "local")).model_validate(value)

    @field_validator("ephemeral")
    @classmethod
    def _not_protected(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("protected"):
            raise ValueError("a protected environment cannot be ephemeral (ephemeral makes every database and bucket "
                             "deletable): remove one of the two")
        return value

    @field_validator("placement")
    @classmethod
    def _placement_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)?$", key):
                raise ValueError(f"placement key {key!r} must be 'service' or 'service.resource'")
        return value

    def cloud_of(self, service: str, resource: str) -> str:
        """Placement: the most specific key wins (`service.resource`, then `service`, then the default)."""
        return self.placement.get(f"{service}.{resource}") or self.placement.get(service) or self.default_cloud

    def target_of(self, cloud: str) -> str:
        """Which plug-in's compiler builds a cloud's stacks: the cloud itself, or its stand-in."""
        section = self.clouds.get(cloud)
        return section.stand_in if section is not None and section.stand_in else cloud

    def is_configured(self, cloud: str) -> bool:
        """A cloud has its `[clouds.<name>]` section, or its plug-in needs none."""
        if cloud in self.clouds:
            return True
        try:
            return not providers.plugin(cloud).section_required
        except providers.UnknownCloud:
            return False

    def override(self, address: str, key: str, default: object = None) -> object:
        """`[overrides."<service.resource>"] key`, else `default`: the one lookup of an environment's values.

        Synthesis applies the model's settings to the resources with it (`platform_sdk.synth.overrides`); cloud
        plug-ins read the settings they add through `StackContext.setting`.
        """
        return self.overrides.get(address, {}).get(key, default)

    def override_key(self, address: str, key: str) -> str:
        """Where an override lives in the file, for messages: `overrides."web.api".memory`."""
        return f'overrides."{address}".{key}'

    # Not a key of the file: what `platform plan/apply` found before synthesis (commands/dns_phase.py): a domain
    # (on every cloud) or a (domain, cloud label) pair (on that cloud only: a move's CDN twin on its target)
    _dns_waiting: frozenset[str | tuple[str, str]] = PrivateAttr(default_factory=frozenset)

    def domain_ready(self, domain: str, cloud: str | None = None) -> bool:
        """Whether a CDN domain in an external DNS zone (`dns_zone = "external"`) is served with its certificate in
        this synthesis on the cloud labelled `cloud`: False while its records are to be created (the first phase of
        its apply, see docs/domains.md), True otherwise and by default (a synthesis alone builds the complete
        configuration)."""
        return domain not in self._dns_waiting and (domain, cloud) not in self._dns_waiting

    def with_domains_waiting(self, domains: Iterable[str | tuple[str, str]]) -> Environment:
        """A copy in which the CDNs on `domains` are built in their first phase (certificate requested only), besides
        those already waiting: a domain (on every cloud) or a (domain, cloud label) pair."""
        copy = self.model_copy()
        copy._dns_waiting = self._dns_waiting | frozenset(domains)
        return copy


def state_model(backend: object) -> type[StateBackend]:
    """The model of a `[state]` section with this `backend`: the local file, or the plug-in owning it."""
    models: dict[str, type[StateBackend]] = {"local": LocalState}
    for found in providers.plugins().values():
        models.update(found.state_backends)
    if not isinstance(backend, str) or backend not in models:
        raise PydanticCustomError(
            "union_tag_invalid", "unknown state backend{hint} (known: {expected})",
            {"hint": did_you_mean(backend, models), "expected": ", ".join(repr(k) for k in models)})
    return models[backend]


# -------------------------------------------------------------------------------------------------- messages

def _annotation_model(annotation: Any, part: object) -> Any:
    """The type one step inside `annotation` (a dict's values, a list's items, a union's model member)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _annotation_model(get_args(annotation)[0], part)
    if origin in (dict, list):
        return get_args(annotation)[-1]
    if origin in (Union, UnionType):
        models = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else None
    return annotation


def valid_keys(model: type[BaseModel], loc: tuple[object, ...]) -> list[str]:
    """The keys a table at `loc` (inside `model`) may have: for suggestions on an unknown key."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
            while get_origin(current) in (Union, UnionType, Annotated):
                current = _annotation_model(current, part)
        elif get_origin(current) in (dict, list):
            current = _annotation_model(current, part)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name, field in current.model_fields.items() if not field.exclude]
    return []


def _top_level_keys() -> set[str]:
    return {name for name, field in Environment.model_fields.items() if not field.exclude} - {"name", "file"}


def _misplaced(errors: list[Any], prefix: tuple[str, ...] = ()) -> Any | None:
    """An unknown key inside a table that is a top-level key of the file (`name_prefix` written after `[alerts]`):
    TOML reads every key after a `[table]` header as part of that table, so the top-level one looks missing."""
    top = _top_level_keys()
    for error in errors:
        loc = (*prefix, *error["loc"])
        if error["type"] == "extra_forbidden" and len(loc) > 1 and str(loc[-1]) in top:
            return error
    return None


def _describe(err: ValidationError, model: type[BaseModel],
              prefix: tuple[str, ...] = ()) -> tuple[str, str, object]:
    """(key, message, value) of the first error, worded for a person: unknown keys get the closest valid name; a
    top-level key written below a `[table]` header (`_misplaced`) comes first, as the cause of a "missing" one.
    `prefix`: where `model`'s table sits in the file (`("clouds", "local")`)."""
    errors = err.errors()
    first = _misplaced(errors, prefix) or errors[0]
    # a tagged union's tag (`~table`: which form of a key was written, e.g. `dns_zone`) is not a key of the file
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("~")))
    key = ".".join(str(p) for p in loc)
    message, value = first["msg"].removeprefix("Value error, "), first.get("input")
    if first["type"] == "extra_forbidden" and first is _misplaced([first], prefix):
        table = ".".join(str(p) for p in (*prefix, *loc[:-1]))
        message = (f"unknown key in [{table}]: `{loc[-1]}` is a top-level key, but TOML reads every key after a "
                   f"[table] header as part of that table: move it above the first [table] line")
    elif first["type"] == "extra_forbidden":
        known = valid_keys(model, loc[:-1])
        message = f"unknown key{did_you_mean(str(loc[-1]), known)}" + (
            f"; valid keys here: {', '.join(known)}" if known else "")
    elif first["type"] == "missing":
        message, value = "required key is missing", None
        if loc == ("name_prefix",):
            message = ("name_prefix is required: the first part of every physical name, unique to your "
                       "organisation and project (bucket names are global), e.g. name_prefix = \"shop-x7k2\"")
    elif first["type"] in ("region_required",):
        value = None
    return key, message, value


def _table(path: Path, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EnvironmentError_("must be a table", file=path, key=key, value=value)
    return value


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_TOML_KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\- \"']+?)\s*=")


def toml_error(path: Path, err: tomllib.TOMLDecodeError) -> EnvironmentError_:
    """`err` as one located message: the file and line, and for a key set twice the key itself (tomllib says only
    "Cannot overwrite a value")."""
    message = str(err)
    where = _TOML_WHERE.search(message)
    if where is None:
        return EnvironmentError_(f"TOML syntax error: {message}", file=path)
    line = int(where.group(1))
    reason = message[:where.start()]
    lines = path.read_text().splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    key = _TOML_KEY.match(text)
    if key and reason == "Cannot overwrite a value":
        name = key.group(1).strip()
        return EnvironmentError_("set twice in its table (TOML allows a key once)", file=path,
                                 line=line, key=name.strip("\"'"), hint=f"keep one of the lines setting {name}")
    return EnvironmentError_(f"TOML syntax error: {reason}" + (f": {text.strip()}" if text.strip() else ""),
                             file=path, line=line)


_TABLE = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$")
_KEY_PARTS = r"(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+))*"
_ASSIGNED = re.compile(rf"^\s*({_KEY_PARTS})\s*=")
_KEY_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


def _dotted(written: str) -> str:
    """A TOML key as written (`"auth.api"`, `clouds . aws`) as messages name it: its parts joined by dots."""
    return ".".join(next(g for g in m.groups() if g is not None) for m in _KEY_PART.finditer(written))


def key_line(path: Path | None, key: str) -> int | None:
    """The line of the TOML file `path` that sets `key` (dotted as messages name it, `clouds.aws.dns_zone`, or as
    written, `overrides."web.api".memory`), or
    else the line of the nearest table or key it is inside (`alerts.email.0` -> the `email = [...]` line; a key of an
    inline table -> the line assigning the table). None when nothing of the key is written (a default, the file
    name) or the file cannot be read."""
    if path is None:
        return None
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    key = _dotted(key)
    best, best_length = None, 0
    table = ""
    for number, text in enumerate(lines, 1):
        header = _TABLE.match(text)
        if header:
            table, written = _dotted(header.group(1)), ""
        else:
            assigned = _ASSIGNED.match(text)
            if assigned is None:
                continue
            written = _dotted(assigned.group(1))
        full = f"{table}.{written}" if table and written else table or written
        if (key == full or key.startswith(full + ".")) and len(full) > best_length:
            best, best_length = number, len(full)
    return best


def load_environment(path: Path) -> Environment:
    """Parse and validate one environment file; every problem names the file, the key and the value.

    Raises:
        EnvironmentError_: the first problem: a TOML syntax error, an unknown key (with the closest valid name),
            a wrong type, a value out of range, an unknown region, a missing required key, a `[sizes]` entry no
            plug-in reads, or a cloud in use without its section.
    """
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise EnvironmentError_("environment file not found", file=path) from None
    except tomllib.TOMLDecodeError as err:
        raise toml_error(path, err) from None
    data.setdefault("name", path.stem)
    if "clouds" in data:  # each section by its plug-in, so a message names `clouds.<name>.<key>`
        sections = {}
        for name, section in _table(path, "clouds", data["clouds"]).items():
            if name not in providers.names():
                raise EnvironmentError_(f"unknown cloud{did_you_mean(name, providers.names())} (known: "
                                        f"{', '.join(providers.names())})", file=path, key=f"clouds.{name}",
                                        value=name)
            config = providers.plugin(name).config
            try:
                sections[name] = config.model_validate(section)
            except ValidationError as err:
                key, msg, value = _describe(err, config, ("clouds", name))
                key = f"clouds.{name}.{key}".rstrip(".")
                raise EnvironmentError_(msg, file=path, line=key_line(path, key), key=key, value=value) from None
        data["clouds"] = sections
    if "state" in data:  # the backend's own model, so a message names `state.<key>`
        state = _table(path, "state", data["state"])
        try:
            model = state_model(state.get("backend", "local"))
            data["state"] = model.model_validate(state)
        except PydanticCustomError as err:
            raise EnvironmentError_(err.message(), file=path, key="state.backend", value=state.get("backend")) \
                from None
        except ValidationError as err:
            key, msg, value = _describe(err, model, ("state",))
            key = f"state.{key}".rstrip(".")
            raise EnvironmentError_(msg, file=path, line=key_line(path, key), key=key, value=value) from None
    try:
        env = Environment.model_validate({**data, "file": None})
    except ValidationError as err:
        key, msg, value = _describe(err, Environment)
        raise EnvironmentError_(msg, file=path, line=key_line(path, key), key=key, value=value) from None
    env.file = path
    if env.budget is not None and env.alerts is None:  # its alerts are all a budget does: it would notify no one
        raise EnvironmentError_("a budget notifies the environment's [alerts] channel, and this environment has none",
                                file=path, line=key_line(path, "budget"), key="budget",
                                value=f"monthly = {env.budget.monthly}",
                                hint='add [alerts] with email = ["you@example.com"] or webhook = ["https://..."] '
                                     "(docs/environment-reference.md)")
    if env.rehearses is not None:
        known = [name for name in list_environments(path.parent) if name != env.name]
        if env.rehearses not in known:
            raise EnvironmentError_("rehearses names no other environment "
                                    f"(environments: {', '.join(known) or 'none'})",
                                    file=path, key="rehearses", value=env.rehearses)
    for cloud in {env.default_cloud, *env.placement.values()}:
        if not env.is_configured(cloud):
            key = "default_cloud" if cloud == env.default_cloud else "placement"
            raise EnvironmentError_(
                f"cloud {cloud!r} is used but has no [clouds.{cloud}] section", file=path, key=key, value=cloud
            )
    _check_overrides(env)
    _check_sizes(env)
    return env


def _check_overrides(env: Environment) -> None:
    """`[overrides]` keys are `"service.resource"` tables; which settings they may hold needs the estate (see
    `platform_sdk.synth.overrides`)."""
    for address in env.overrides:
        if not ADDRESS_PATTERN.match(address):
            raise EnvironmentError_("an override names one resource: 'service.resource'", file=env.file,
                                    key=f'overrides."{address}"', value=address)


def _size_tiers(kind: str) -> tuple[str, ...]:
    """The size tiers of a kind: the values of its `size` setting (`Database.size`), none when it has none."""
    cls = next((k for k in KINDS if k.kind == kind), None)
    if cls is None or "size" not in {f.name for f in fields(cls)}:
        return ()
    owner = next(k for k in cls.__mro__ if "size" in k.__dict__.get("__annotations__", {}))
    return tuple(str(t) for t in get_args(get_type_hints(owner)["size"]))


def _check_sizes(env: Environment) -> None:
    """`[sizes.<kind>.<tier>] key = value`: a kind with size tiers, one of its tiers, a key a plug-in reads, a value
    that plug-in accepts. (A mistyped key used to drop production to the default instance class silently.)"""
    readers = {kind: {s.key: s for p in providers.plugins().values() for s in p.size_settings.get(kind, ())}
               for kind in (k.kind for k in KINDS)}
    kinds = [kind for kind, settings in readers.items() if settings]
    for kind, tiers in env.sizes.items():
        if kind not in kinds:
            raise EnvironmentError_(f"no size table for this kind{did_you_mean(kind, kinds)} (kinds with sizes: "
                                    f"{', '.join(kinds)})", file=env.file, key=f"sizes.{kind}", value=kind)
        known_tiers = _size_tiers(kind)
        for tier, table in tiers.items():
            if tier not in known_tiers:
                raise EnvironmentError_(f"unknown size tier{did_you_mean(tier, known_tiers)} (tiers: "
                                        f"{', '.join(known_tiers)})", file=env.file, key=f"sizes.{kind}.{tier}",
                                        value=tier)
            for key, value in table.items():
                setting = readers[kind].get(key)
                where = f"sizes.{kind}.{tier}.{key}"
                if setting is None:
                    raise EnvironmentError_(f"unknown key{did_you_mean(key, readers[kind])} (keys: "
                                            f"{', '.join(readers[kind])})", file=env.file, key=where, value=key)
                problem = setting.problem(value)
                if problem:
                    raise EnvironmentError_(problem, file=env.file, line=key_line(env.file, where),
                                            key=where, value=value)


def environment_path(envs_dir: Path, name: str) -> Path:
    return envs_dir / f"{name}.toml"


def list_environments(envs_dir: Path) -> list[str]:
    return sorted(p.stem for p in envs_dir.glob("*.toml"))


def find_environment(envs_dir: Path, name: str) -> Environment:
    """Load `envs/NAME.toml`, with a clear message listing the known environments (and the closest name, if one is
    close) when it does not exist."""
    path = environment_path(envs_dir, name)
    if not path.is_file():
        known = list_environments(envs_dir)
        raise EnvironmentError_(f"unknown environment{did_you_mean(name, known)} (known: {', '.join(known) or 'none'})",
                                file=path, key="--env", value=name)
    return load_environment(path)
