"""Change one placement line of an environment file, keeping the rest of the file (comments, order) as it was."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from platform_sdk.envs import Environment
from platform_sdk.errors import EnvironmentError_

_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf'^\s*(?:"{quoted}"|\'{quoted}\'|{quoted})\s*=')


def set_placement(path: Path, key: str, cloud: str | None) -> str:
    """Set `[placement] "key" = "cloud"` in the file, or remove the line when `cloud` is None (the key then
    resolves to the service's line or the default cloud); returns the new text (already written and re-parsed)."""
    lines = path.read_text().splitlines(keepends=True)
    section = None
    placement_header = None
    replaced = False
    kept: list[str] = []
    for line in lines:
        header = _HEADER.match(line)
        if header:
            section = header.group(1).strip()
            if section == "placement":
                placement_header = len(kept)
        elif section == "placement" and _key_pattern(key).match(line):
            if cloud is not None and not replaced:
                kept.append(f'"{key}" = "{cloud}"\n')
            replaced = True
            continue
        kept.append(line)
    if not replaced and cloud is not None:
        entry = f'"{key}" = "{cloud}"\n'
        if placement_header is not None:
            kept.insert(placement_header + 1, entry)
        else:
            if kept and not kept[-1].endswith("\n"):
                kept[-1] += "\n"
            kept += ["\n", "[placement]\n", entry]
    text = "".join(kept)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:  # pragma: no cover - we only write well-formed lines
        raise EnvironmentError_(f"could not update placement: {err}", file=path, key=f"placement.{key}") from None
    if data.get("placement", {}).get(key) != cloud:
        raise EnvironmentError_("could not update placement (unexpected file layout)", file=path,
                                key=f"placement.{key}", value=cloud)
    if text != path.read_text():
        path.write_text(text)
    return text


def placement_value(env: Environment, key: str, cloud: str) -> str | None:
    """The line `key` needs for `key` to resolve to `cloud`: None when it does without one (`cloud` is what the
    service's line or the default cloud gives), so a move back to the default leaves no line behind."""
    service, _, resource = key.partition(".")
    without = (env.placement.get(service) if resource else None) or env.default_cloud
    return None if cloud == without else cloud
