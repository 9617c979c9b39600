"""Copy a secret's value to its new home and prove it arrived, through the clouds' APIs only.

The value is read from the source container and written as a new version of the target's, in memory: it is never
printed, logged, journaled or written to a file. Verification reads the target back and compares in constant
time. The report says what happened (copied or already there, versions), never the value.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict, dataclass

from platform_sdk.errors import PlatformError
from platform_sdk.runtime.secrets import open_secret


@dataclass
class SecretCopy:
    """What copying one secret did: `copied` (a new version was written), `verified`, the versions involved."""

    resource: str
    phase: str
    source_has_value: bool
    copied: bool
    verified: bool
    source_version: str = ""
    target_version: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def preflight_secrets(pairs: dict[str, dict[str, str]]) -> None:
    """Both containers of every secret exist (the target twin was created), before any value of the phase moves.

    Raises:
        PlatformError: a container is missing, naming the secret and which side.
    """
    for address, pair in pairs.items():
        for role in ("source", "target"):
            if not open_secret(pair[role]).exists():
                raise PlatformError(f"the {role} container of secret {address} does not exist; nothing was copied: "
                                    "re-run the move (its target step creates the twin)", value=address)


def copy_secret(address: str, source_url: str, target_url: str, phase: str) -> SecretCopy:
    """Make the target hold the source's current value (a new version only when it differs), then verify.

    Raises:
        PlatformError: the target does not read back the source's value (the source is untouched).
    """
    source, target = open_secret(source_url), open_secret(target_url)
    current = source.read()
    if current is None:  # nothing to carry: a generated secret gets its value from the next apply
        return SecretCopy(address, phase, source_has_value=False, copied=False, verified=True)
    existing = target.read()
    copied = existing is None or not hmac.compare_digest(existing.value.encode(), current.value.encode())
    if copied:
        target.write(current.value)
    after = target.read()
    if after is None or not hmac.compare_digest(after.value.encode(), current.value.encode()):
        raise PlatformError(f"verification of secret {address} failed: the target does not hold the source's value "
                            "(the source is untouched); re-run the move", value=address)
    return SecretCopy(address, phase, source_has_value=True, copied=copied, verified=True,
                      source_version=current.version, target_version=after.version)
