"""Escape hatches: raw Terraform a service adds for one cloud (`service.terraform("aws", build)`).

`build(tf)` runs once the service's resources are compiled, with a `TerraformHatch` over the service's stack on that
cloud: `tf.resource(type, id, attributes)` and `tf.data(...)` add raw blocks, `tf.ref(resource, attribute)` is a
neutral resource's attribute as a plain Terraform reference (`${aws_s3_bucket.site_bucket.arn}`), found through the
block the cloud's plug-in names as that kind's `primary_types`.

Types in the cloud's vendored schema are schema-checked like everything else; others are recorded per stack in
`StackInfo.unchecked` (the schema check skips exactly those) and announced as a warning line. Placement refuses to
put the service's resources anywhere but the hatch's cloud (`synth/placement.py`). On a local stand-in of that cloud
(a rehearsal) the hatch cannot be applied: it is skipped, with a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_sdk import providers
from platform_sdk.errors import PlatformError
from platform_sdk.model import Hatch, Resource, Service
from platform_sdk.synth.schema_check import load_schemas

if TYPE_CHECKING:
    from platform_sdk.providers.base import Handle, StackContext
    from platform_sdk.synth.estate import EstateBuilder, StackInfo


class TerraformHatch:
    """What a hatch's `build(tf)` receives: raw blocks in one stack, and references to the service's resources."""

    def __init__(self, ctx: StackContext, info: StackInfo, hatch: Hatch, service: Service,
                 handles: dict[Resource, Handle] | None = None) -> None:
        self.ctx = ctx
        self.handles = handles or {}
        self.info = info
        self.hatch = hatch
        self.service = service
        self.cloud = hatch.cloud
        self.added: list[str] = []

    def resource(self, terraform_type: str, id: str, attributes: dict[str, Any]) -> str:
        """Add `resource "<terraform_type>" "<id>"` with `attributes` (plain Terraform JSON; `${...}` references
        allowed); returns its address, `type.id`."""
        self._check(terraform_type, id, attributes)
        self.ctx.resource(terraform_type, id, attributes)
        return self._added(terraform_type, id)

    def data(self, terraform_type: str, id: str, attributes: dict[str, Any]) -> str:
        """Add `data "<terraform_type>" "<id>"`; returns its address, `data.type.id`."""
        self._check(terraform_type, id, attributes)
        self.ctx.data(terraform_type, id, attributes)
        return "data." + self._added(terraform_type, id)

    def ref(self, resource: Resource, attribute: str) -> str:
        """`${<type>.<id>.<attribute>}` of the block implementing `resource` (a resource of this service, placed on
        this cloud).

        Raises:
            PlatformError: the resource is not this service's, or has no block of its kind's primary type here.
        """
        if resource.service is not self.service:
            raise self._error(f"tf.ref() takes a resource of service {self.service.name}, not {resource.address}",
                              resource.address)
        wanted = providers.plugin(self.ctx.target).primary_types.get(resource.kind)
        handle = self.handles.get(resource)
        constructs = handle.constructs if handle is not None and handle.stack_name == self.ctx.name else {}
        preferred = sorted(constructs.items(), key=lambda item: item[0] not in ("main", resource.kind))
        for _, construct in preferred:  # the compiler's own construct of that type (a queue, not its dead letters)
            if getattr(construct, "terraform_resource_type", None) == wanted:
                return f"${{{wanted}.{construct.friendly_unique_id}.{attribute}}}"
        for address, owner in self.info.owners.items():
            tf_type, _, name = address.partition(".")
            if owner == resource.address and tf_type == wanted:
                return f"${{{tf_type}.{name}.{attribute}}}"
        raise self._error(f"{resource.address} has no {wanted or resource.kind} block on {self.cloud} to refer to",
                          resource.address)

    def _check(self, terraform_type: str, id: str, attributes: Any) -> None:
        if not isinstance(terraform_type, str) or not terraform_type or not isinstance(id, str) or not id:
            raise self._error("tf.resource() takes a Terraform type and an id, both non-empty strings",
                              f"{terraform_type!r} {id!r}")
        if not isinstance(attributes, dict):
            raise self._error(f"the attributes of {terraform_type}.{id} must be a dict", attributes)

    def _added(self, terraform_type: str, id: str) -> str:
        address = f"{terraform_type}.{id}"
        self.added.append(address)
        self.info.owners[address] = f"{self.service.name}.terraform"
        return address

    def _error(self, message: str, value: object) -> PlatformError:
        return PlatformError(message, file=self.hatch.declared_in, line=self.hatch.declared_line,
                             key=f"{self.service.name}.terraform", value=value)


def add_hatches(builder: EstateBuilder) -> list[str]:
    """Run every service's hatches into its stack on the hatch's cloud; returns the warning lines to show."""
    warnings: list[str] = []
    schemas = load_schemas()
    env = builder.env
    for service in builder.services:
        for hatch in service.hatches:
            if not env.is_configured(hatch.cloud):
                warnings.append(f"{service.name}: the escape hatch for {hatch.cloud} ({hatch.where}) is skipped: "
                                f"environment {env.name} does not configure {hatch.cloud}")
                continue
            target = env.target_of(hatch.cloud)
            if target != hatch.cloud:
                warnings.append(f"{service.name}: the escape hatch for {hatch.cloud} ({hatch.where}) is not "
                                f"rehearsed on the {target} stand-in (raw {hatch.cloud} resources exist only there)")
                continue
            from platform_sdk.synth.placement import stack_name

            name = stack_name(env, service.name, hatch.cloud)
            ctx = builder._stack(name, service, hatch.cloud, target)
            info = builder.stack_infos[name]
            tf = TerraformHatch(ctx, info, hatch, service, builder.handles)
            _build(hatch, tf)
            for address in tf.added:
                tf_type = address.partition(".")[0]
                if tf_type not in schemas.resources and tf_type not in schemas.data_sources:
                    if tf_type not in info.unchecked:
                        info.unchecked.append(tf_type)
                    warnings.append(f"{service.name}: {address} (escape hatch, {hatch.where}) is not schema-checked: "
                                    f"{tf_type} is not in the vendored {hatch.cloud} schema")
    return warnings


def _build(hatch: Hatch, tf: TerraformHatch) -> None:
    """`hatch.build(tf)`; the CDK engine refusing a construct the build made (a TerraformAsset of a path that does not
    exist, an argument of the wrong type) is one message naming the hatch's line and what the engine said, instead of
    a traceback through jsii. An error of the build's own Python is the user's code failing: raised as it is.

    Raises:
        PlatformError: (key `SERVICE.terraform`) the engine refused a construct.
    """
    try:
        hatch.build(tf)
    except RuntimeError as err:
        from jsii.errors import JavaScriptError

        if not isinstance(err.__cause__, JavaScriptError):
            raise
        said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise tf._error(f"the CDK engine refused a construct the escape hatch made: {said}", hatch.cloud) from None
