"""User-facing errors: every one names where the bad input is, so the CLI can exit 2 with one clear line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass
class PlatformError(Exception):
    """Bad input from the user. The CLI prints `str(err)` and exits with code 2 (`exit_code`); nothing is written."""

    exit_code: ClassVar[int] = 2
    """The CLI's exit code for it: 2, bad input; a refusal that is not the input's fault says 1 (`WorkspaceLocked`)."""

    message: str
    file: str | Path | None = None
    key: str | None = None
    value: object = None
    line: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line:
                where += f":{self.line}"
        parts = [f"{where}: " if where else ""]
        if self.key is not None:
            parts.append(f"{self.key}: ")
        parts.append(self.message)
        if self.value is not None:
            parts.append(f" (got {self.value!r})")
        text = "".join(parts)
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class PlatformWarning(UserWarning):
    """Something the platform could not check or that works but deserves attention. The CLI prints it as
    `warning: <file>:<line>: <message>`; synthesis goes on."""


_SHOWN: dict[object, object] = {}  # warnings' registry: a message is shown once per location while filters stay


def warn(message: str, file: str | Path | None = None, line: int | None = None) -> None:
    """Announce a PlatformWarning located at `file:line` (the user's declaration), not at the SDK's code."""
    import warnings

    warnings.warn_explicit(message, PlatformWarning, str(file) if file else "platform", line or 0, registry=_SHOWN)


class ModelError(PlatformError):
    """A resource declaration is invalid (raised while a service file runs)."""


class EnvironmentError_(PlatformError):
    """An environment file is invalid."""


class PlacementError(PlatformError):
    """A workload is placed somewhere that cannot serve it."""


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'region'?)` for the closest of `choices` to `word` (difflib), or "" when none is close.
    Choices equally close are all named, sorted (`eu-west-9`: 'eu-west-1', 'eu-west-2' or 'eu-west-3'), never one of
    them picked by chance."""
    if not isinstance(word, str):
        return ""
    options = list(dict.fromkeys(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    if not close:
        return ""

    def score(choice: str) -> float:
        return difflib.SequenceMatcher(None, choice, word).ratio()  # as get_close_matches scores

    best = score(close[0])
    tied = sorted(c for c in options if score(c) == best)
    named = [repr(c) for c in tied]
    return f" (did you mean {named[0]}?)" if len(named) == 1 else \
        f" (did you mean {', '.join(named[:-1])} or {named[-1]}?)"
