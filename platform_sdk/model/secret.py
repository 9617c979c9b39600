"""The Secret kind: a credential whose container the platform manages and whose value it never writes down.

Terraform creates the container (one per environment); the value reaches it only through the cloud's API
(`platform secret set`, or the CLI generating it), so it is never in Terraform configuration, state or plans.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from platform_sdk.model.base import Resource, is_whole

DEFAULT_LENGTH = 48
"""Characters in a generated value when `length` is not given (with the default alphabet: about 285 bits)."""
LENGTH_RANGE = (16, 4096)
"""Inclusive range of `length`, in characters: shorter is guessable, longer than any cloud needs (AWS Secrets
Manager and GCP Secret Manager both take values up to 64 KiB)."""
DEFAULT_ALPHABET = string.ascii_letters + string.digits
"""Characters a generated value is drawn from when `alphabet` is not given: safe in headers, URLs and shells."""

OPERATIONS: Mapping[str, tuple[str, ...]] = {"read": ("read",)}
"""Grant access level -> the runtime operations it allows. `fn.reads(secret)` grants "read"."""

OPERATION_DESCRIPTIONS: Mapping[str, str] = {
    "read": "read the current value (runtime: secret(name); cached in the process, read again after a TTL or "
            "when the version changes)",
}
"""What each operation in `OPERATIONS` does, and the runtime client function that performs it."""


@dataclass(eq=False)
class Secret(Resource):
    """A secret value (an API key, a signing key) that functions read at runtime and no file ever holds.

    Each environment has its own container, so its own value. Values are set from standard input with
    `platform secret set SERVICE.NAME --env E`, or, with `generate=True`, created by the CLI after `platform
    apply` (and replaced by `platform secret rotate`). `platform apply` refuses to deploy a function reading a
    secret that has no value in the environment (generated ones excepted: apply creates them).

    Functions are granted it with `fn.reads(secret)` and read it with `secret("name")` from
    `platform_sdk.runtime` (`OPERATIONS`).

    Attributes:
        name: Required. The neutral name, see `Resource`.
        generate: The CLI generates the value (from `alphabet`, with Python's `secrets` module) instead of a
            person setting it. Default `False`. Raises `ModelError` (key `generate`) unless a bool.
        length: Characters in a generated value, a whole number from 16 to 4096. Default `None`: 48 when
            `generate=True`. Raises `ModelError` (key `length`) when out of range, or given without
            `generate=True`.
        alphabet: The characters a generated value is drawn from: at least 16 distinct printable ASCII
            characters, no whitespace. Default `None`: letters and digits (`DEFAULT_ALPHABET`). Raises
            `ModelError` (key `alphabet`) otherwise, or when given without `generate=True`.

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "secret"
    operations: ClassVar[Mapping[str, tuple[str, ...]]] = OPERATIONS
    generate: bool = False
    length: int | None = None
    alphabet: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.generate, bool):
            raise self.error("generate must be True or False", "generate", self.generate)
        for key in ("length", "alphabet"):
            if getattr(self, key) is not None and not self.generate:
                raise self.error(f"{key} applies only to generated secrets: add generate=True", key,
                                 getattr(self, key))
        low, high = LENGTH_RANGE
        if self.length is not None and (not is_whole(self.length) or not low <= self.length <= high):
            raise self.error(f"length must be a whole number of characters from {low} to {high}", "length",
                             self.length)
        alphabet = self.alphabet
        if alphabet is not None and (not isinstance(alphabet, str) or len(set(alphabet)) < 16
                                     or not all(c in string.printable and not c.isspace() for c in alphabet)):
            raise self.error("alphabet must hold at least 16 distinct printable ASCII characters, no whitespace",
                             "alphabet", alphabet)

    @property
    def value_length(self) -> int:
        """Characters in a generated value (`length`, else `DEFAULT_LENGTH`)."""
        return self.length if self.length is not None else DEFAULT_LENGTH

    @property
    def value_alphabet(self) -> str:
        """The characters a generated value is drawn from, each once (`alphabet`, else `DEFAULT_ALPHABET`)."""
        return "".join(dict.fromkeys(self.alphabet)) if self.alphabet is not None else DEFAULT_ALPHABET
