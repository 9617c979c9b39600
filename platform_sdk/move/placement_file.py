"""Change one placement line of an environment file, keeping the rest of the file (comments, order) as it was."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from platform_sdk.errors import EnvironmentError_

_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf'^\s*(?:"{quoted}"|\'{quoted}\'|{quoted})\s*=')


def set_placement(path: Path, key: str, cloud: str) -> str:
    """Set `[placement] "key" = "cloud"` in the file; returns the new text (already written and re-parsed)."""
    lines = path.read_text().splitlines(keepends=True)
    section = None
    placement_header = None
    replaced = False
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            section = header.group(1).strip()
            if section == "placement":
                placement_header = index
            continue
        if section == "placement" and _key_pattern(key).match(line):
            lines[index] = f'"{key}" = "{cloud}"\n'
            replaced = True
    if not replaced:
        entry = f'"{key}" = "{cloud}"\n'
        if placement_header is not None:
            lines.insert(placement_header + 1, entry)
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines += ["\n", "[placement]\n", entry]
    text = "".join(lines)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:  # pragma: no cover - we only write well-formed lines
        raise EnvironmentError_(f"could not update placement: {err}", file=path, key=f"placement.{key}") from None
    if data.get("placement", {}).get(key) != cloud:
        raise EnvironmentError_("could not update placement (unexpected file layout)", file=path,
                                key=f"placement.{key}", value=cloud)
    path.write_text(text)
    return text
