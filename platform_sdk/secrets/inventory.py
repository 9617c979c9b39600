"""Every secret of an estate in one environment: where it lives and where its value is, known without Terraform."""

from __future__ import annotations

from dataclasses import dataclass

from platform_sdk import providers
from platform_sdk.envs import Environment
from platform_sdk.errors import PlatformError
from platform_sdk.model import Function, Secret, Service
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.synth.placement import resolve_placements


@dataclass(frozen=True)
class SecretRef:
    """One secret in one environment.

    `cloud` is its placement label, `target` the plug-in building it (a stand-in's host), `stack` its Terraform
    stack, `url` where its value lives (what `open_secret` opens), `readers` the addresses of the functions granted
    `reads` on it.
    """

    secret: Secret
    env: str
    cloud: str
    target: str
    stack: str
    url: str
    readers: tuple[str, ...]

    @property
    def address(self) -> str:
        return self.secret.address

    @property
    def generate(self) -> bool:
        return self.secret.generate

    def set_command(self) -> str:
        """The command that gives the secret its value in this environment."""
        return f"platform secret set {self.address} --env {self.env}"


def inventory(project: Project, env: Environment, services: list[Service], profile: Profile | None = None,
              ) -> list[SecretRef]:
    """Every Secret of `services` as placed in `env`, in declaration order.

    Raises:
        PlacementError: the estate cannot be placed in `env` (the same errors as synthesis).
    """
    profile = profile or Profile()
    placements = resolve_placements(env, services, providers.compilers_for(env), naming=profile.physical_name)
    readers: dict[Secret, list[str]] = {}
    for resource in placements:
        if isinstance(resource, Function):
            for grant in resource.grants:
                if isinstance(grant.target, Secret):
                    readers.setdefault(grant.target, []).append(resource.address)
    refs: list[SecretRef] = []
    for service in services:
        for secret in service.secrets:
            placement = placements[secret]
            physical = profile.physical_name(env, service.name, secret.physical_key)
            url = providers.plugin(placement.target).secret_url(project.root, env, placement.cloud, physical)
            refs.append(SecretRef(secret, env.name, placement.cloud, placement.target, placement.stack_name, url,
                                  tuple(readers.get(secret, ()))))
    return refs


def find(refs: list[SecretRef], address: str) -> SecretRef:
    """The secret at `SERVICE.NAME`.

    Raises:
        PlatformError: no secret has that address (naming the ones there are).
    """
    for ref in refs:
        if ref.address == address:
            return ref
    known = ", ".join(ref.address for ref in refs) or "none: declare one with Secret(\"name\") in a service"
    raise PlatformError(f"no secret {address!r} in the estate (secrets: {known})", key="SERVICE.NAME", value=address)
