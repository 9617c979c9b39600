"""Two declarations that would be one object on a cloud: refused at synthesis, before anything is written.

A physical name is derived (`<prefix>-<env>-<service>-<resource>` by default, then each cloud's own shaping and the
names its compiler derives for a resource's parts: a dead-letter queue, a role, a package bucket), so two different
declarations can meet on one name: service `exams` bucket `x-y` and service `exams-x` bucket `y`; a resource renamed
with `renamed_from="uploads"` (it keeps the old physical name) and a new resource called `uploads`; queue `outbox`'s
dead-letter queue `…-outbox-dlq` and a queue `outbox-dlq`. Terraform would plan both, the cloud would hold one object
(or refuse the second at apply), and removing either declaration would delete the other's data.

What counts as one object is each cloud plug-in's knowledge (`CloudPlugin.physical_names`: the Terraform types whose
name the cloud holds once per account or project, and what else a block names); this module compares every
synthesized block of one cloud label (one account or project, one local root) with every other, across services.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from platform_sdk import providers
from platform_sdk.errors import PlatformError
from platform_sdk.model import Resource

if TYPE_CHECKING:
    from platform_sdk.synth.estate import EstateBuilder


@dataclass(frozen=True)
class Claim:
    """One synthesized block (or module) that takes a name: where it is and what it implements."""

    stack: str
    cloud: str
    target: str
    address: str
    owner: Resource | None
    """The resource it implements; None for an escape hatch's block or one the platform adds for a whole stack."""
    own: bool
    """Whether it is the resource's own object (a block of its kind's `primary_types` with its physical name), not a
    part derived from it (a dead-letter queue, a role)."""
    who: str
    """How messages name what made it: the resource's address, `<service>'s escape hatch`, or `the platform`."""
    declared: str | None
    """`path:line` of the declaration that made it (relative to the project), when known."""


def refuse_shared_names(builder: EstateBuilder) -> None:
    """Refuse two blocks (or module-backed resources) of one cloud label that take one name in one namespace.

    Raises:
        PlatformError: at the line of the declaration to rename (rather the one not renamed, when the other keeps its
            old name through `renamed_from`; rather a resource's own object than a name derived from another
            resource), naming both declarations with their `file:line`, the physical name, its cloud and the
            Terraform type.
    """
    taken: dict[tuple[str, str, str], Claim] = {}
    for namespace, name, claim in [*_block_claims(builder), *_module_claims(builder)]:
        first = taken.setdefault((claim.cloud, namespace, name), claim)
        if first is not claim:
            raise _shared(first, claim, namespace, name)


def _block_claims(builder: EstateBuilder) -> Iterator[tuple[str, str, Claim]]:
    """(namespace, name, claim) of every name a synthesized block takes (`CloudPlugin.physical_names`)."""
    resources = {resource.address: resource for service in builder.services for resource in service}
    services = {service.name: service for service in builder.services}
    for ctx in builder.contexts.values():
        info = builder.stack_infos[ctx.name]
        plugin = providers.plugin(ctx.target)
        for block in ctx.document.blocks:
            if block.section != "resource":
                continue
            provider = block.meta_arguments()["provider"]
            body = {**block.attributes, "provider": provider} if provider else block.attributes
            owner = info.owners.get(block.fqn, "")
            resource = resources.get(owner)
            if resource is not None:
                who, declared = resource.address, info.declared.get(owner)
            elif owner == f"{info.service}.terraform" and info.service in services:
                where = [h.where for h in services[info.service].hatches if h.cloud == ctx.cloud]
                who, declared = f"{info.service}'s escape hatch", where[0] if where else None
            else:
                who, declared = "the platform", None
            primary = resource is not None and plugin.primary_types.get(resource.kind) == block.terraform_resource_type
            for namespace, name in plugin.physical_names(builder.env, block.terraform_resource_type, body):
                own = primary and resource is not None and name == _physical_name(builder, resource)
                yield namespace, name, Claim(ctx.name, ctx.cloud, ctx.target, block.fqn, resource, own, who, declared)


def _module_claims(builder: EstateBuilder) -> Iterator[tuple[str, str, Claim]]:
    """The name of every resource a platform team's module builds (`Profile.modules`): its `name` input names an object
    of the kind's primary type, in that type's namespace."""
    for resource, handle in [*builder.handles.items(), *builder.copy_handles.items()]:
        plugin = providers.plugin(handle.target)
        primary = plugin.primary_types.get(resource.kind, "")
        argument = plugin.unique_names.get(primary)
        if (handle.target, resource.kind) not in builder.profile.modules or argument is None:
            continue
        declared = builder.stack_infos[handle.stack_name].declared.get(resource.address)
        claim = Claim(handle.stack_name, handle.cloud, handle.target, f"module.{resource.name}_module", resource,
                      True, resource.address, declared)
        body = {argument: _physical_name(builder, resource)}
        for namespace, name in plugin.physical_names(builder.env, primary, body):
            yield namespace, name, claim


def _physical_name(builder: EstateBuilder, resource: Resource) -> str:
    service = resource.service.name if resource.service is not None else ""
    return builder.profile.physical_name(builder.env, service, resource.physical_key)


def _shared(first: Claim, second: Claim, namespace: str, name: str) -> PlatformError:
    plugin = providers.plugin(second.target)
    terraform_type, _, scope = namespace.partition(" ")  # `aws_sqs_queue in eu-west-1`: a Region's names
    kinds = [kind for kind, primary in plugin.primary_types.items() if primary == terraform_type]
    what = f"{kinds[0]} {name!r} ({namespace})" if kinds else f"{terraform_type} {name!r} {scope}".rstrip()
    where = second.cloud if second.target == second.cloud else f"{second.cloud} ({second.target} stand-in)"
    # Point at what the user can rename: rather a declaration that did not keep its old name (renamed_from), rather a
    # resource's own object than a part a compiler derived from another; else the one that took the name second.
    pointed, other = sorted((second, first), key=lambda c: (c.owner is not None and c.owner.renamed_from is not None,
                                                            not c.own))
    message = (f"{_describe(first)} and {_describe(second)} would both be {what} on {where}, one object for two "
               "declarations: both would be applied to it, and removing either would delete it (and its data) for the "
               "other too")
    located = pointed.owner or other.owner
    return PlatformError(message, file=located.declared_in if located else None,
                         line=located.declared_line if located else None,
                         key=located.address if located else None, value=name, hint=_hint(pointed, other))


def _describe(claim: Claim) -> str:
    """`hello.files (services/hello.py:3, renamed_from='uploads')`; a block other than the resource's own object
    (its dead-letter queue, its role) is named too, and a block no declaration made by its stack."""
    details = [claim.declared] if claim.declared else []
    owner = claim.owner
    if owner is not None and owner.renamed_from is not None:
        details.append(f"renamed_from={owner.renamed_from!r}")
    if not claim.own:
        details.append(f"its {claim.address}" if claim.declared else f"{claim.address} in stack {claim.stack}")
    return f"{claim.who} ({', '.join(details)})"


def _hint(pointed: Claim, other: Claim) -> str:
    new, old = pointed.owner, other.owner
    if new is not None and old is not None and old.renamed_from == new.name and old.service is new.service:
        return (f"{old.address} keeps the physical name of its old name {new.name!r} (renamed_from), so that name "
                f"stays taken in service {new.service.name if new.service else '?'}: give {new.address} another name")
    return ("give one of them (or its service) another name: physical names join the name prefix, the environment, "
            "the service and the resource with '-' (unless the profile names them otherwise), and a cloud derives "
            "further names from them")
