"""What `platform plan` and `platform apply` do about secret values: report the missing ones, refuse to deploy a
function whose secret has none, and generate the values of generated secrets right after their containers exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from platform_sdk.envs import Environment
from platform_sdk.errors import PlatformError
from platform_sdk.model import Service
from platform_sdk.profile import load_profile
from platform_sdk.project import Project
from platform_sdk.runtime.secrets import open_secret
from platform_sdk.secrets.inventory import inventory
from platform_sdk.secrets.values import SET, UNKNOWN, ValueState, generate, unreadable, value_states


def states(project: Project, env: Environment, services: list[Service]) -> list[ValueState]:
    """Whether each secret of the estate has a value in `env` (empty, without asking anything, when the estate
    declares no secret)."""
    if not any(service.secrets for service in services):
        return []
    return value_states(inventory(project, env, services, load_profile(project, env)))


def refuse_unreadable(found: Iterable[ValueState], env: str) -> None:
    """Refuse an apply that would deploy functions reading a secret without a value.

    Raises:
        PlatformError: one line per such secret: the functions reading it and the command that sets it.
    """
    missing = unreadable(found)
    if not missing:
        return
    lines = []
    for state in missing:
        readers = ", ".join(state.ref.readers)
        if state.state == UNKNOWN:
            lines.append(f"  - {state.ref.address} (read by {readers}): cannot tell whether it has a value "
                         f"({state.detail})")
        else:
            lines.append(f"  - {state.ref.address} (read by {readers}): set it with `{state.ref.set_command()}`")
    raise PlatformError(f"refusing to apply: {len(missing)} secret(s) read by functions have no value in environment "
                        f"{env}; nothing was changed:\n" + "\n".join(lines),
                        hint="the value is read from standard input (pipe it in, or type it at the prompt)")


def generate_missing(found: Iterable[ValueState], settled_stacks: Iterable[str]) -> list[str]:
    """Give every generated secret of a settled stack that has no value yet its first value; returns their
    addresses. Values are made with `values.generate` and go straight to the cloud: never shown."""
    settled = set(settled_stacks)
    made: list[str] = []
    for state in found:
        ref = state.ref
        if not ref.generate or ref.stack not in settled or state.state == SET:
            continue
        client = open_secret(ref.url)
        if client.exists() and not client.has_value():
            client.write(generate(ref.secret))
            made.append(ref.address)
    return made
