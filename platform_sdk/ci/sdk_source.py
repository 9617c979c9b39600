"""Where the running platform-sdk was installed from, as a pip requirement a CI runner can install again.

Read from the installed distribution's metadata (importlib.metadata): `direct_url.json`, which pip writes for an
install from a URL, a VCS, a local folder or an editable one, and never for an install from a package index
(PEP 610, https://packaging.python.org/en/latest/specifications/direct-url-data-structure/). The pipelines must
install exactly that SDK: the name `platform-sdk` on PyPI is not ours, so `platform-sdk==<version>` is only written
when this SDK itself came from an index (the one the runner's pip is configured for).
"""

from __future__ import annotations

import json
from importlib.metadata import Distribution
from typing import Any
from urllib.parse import urlsplit

from platform_sdk.errors import PlatformError

NAME = "platform-sdk"
REMOTE_SCHEMES = ("https", "http", "ssh", "git")
"""URL schemes a CI runner can reach; `file:` (a path on this machine) is not one of them."""


def requirement(distribution: Distribution, extras: list[str]) -> str:
    """The PEP 508 requirement for the SDK `distribution` was installed from, with `extras` (sorted by the caller):

    - from a package index (no `direct_url.json`): `platform-sdk[<extras>]==<version>`;
    - from a VCS: `platform-sdk[<extras>] @ <vcs>+<url>@<commit>` (the commit installed, never a branch);
    - from an archive URL: `platform-sdk[<extras>] @ <url>` (with `#<algorithm>=<hash>` when pip recorded one).

    A `subdirectory` (the project below the repository's or archive's root) becomes the URL's `#subdirectory=`.

    Raises:
        PlatformError (key `--install`): an editable install, a local folder, a `file:` URL or a `direct_url.json`
        this code does not understand: a CI runner cannot install that SDK, the user must say how.
    """
    name = NAME + (f"[{','.join(extras)}]" if extras else "")
    text = distribution.read_text("direct_url.json")
    if text is None:
        return f"{name}=={distribution.version}"
    try:
        found: Any = json.loads(text)
        url = str(found["url"])
    except (ValueError, KeyError, TypeError):
        raise _refuse(f"its direct_url.json cannot be read ({text[:80]!r})") from None
    if "dir_info" in found:
        editable = isinstance(found["dir_info"], dict) and found["dir_info"].get("editable")
        raise _refuse(f"it is {'an editable install' if editable else 'installed'} from the folder {url}, which a CI "
                      "runner does not have")
    if urlsplit(url).scheme not in REMOTE_SCHEMES:
        raise _refuse(f"it was installed from {url}, which a CI runner cannot reach")
    fragments = [f"subdirectory={found['subdirectory']}"] if found.get("subdirectory") else []
    vcs = found.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        return f"{name} @ {vcs['vcs']}+{url}@{vcs['commit_id']}" + "".join(f"#{f}" for f in fragments[:1])
    archive = found.get("archive_info")
    if isinstance(archive, dict):
        hashes = archive.get("hashes") or {}
        legacy = archive.get("hash")  # PEP 610's older form: "<algorithm>=<hex>"
        if isinstance(hashes, dict) and "sha256" in hashes:
            fragments.insert(0, f"sha256={hashes['sha256']}")
        elif isinstance(legacy, str) and "=" in legacy:
            fragments.insert(0, legacy)
        return f"{name} @ {url}" + (f"#{'&'.join(fragments)}" if fragments else "")
    raise _refuse(f"its direct_url.json names no VCS commit, archive or folder ({text[:80]!r})")


def _refuse(why: str) -> PlatformError:
    return PlatformError(f"the jobs cannot install the platform-sdk that runs here: {why}", key="--install",
                         hint="say how the jobs install the project and platform-sdk, e.g. --install \"python -m pip "
                              "install 'platform-sdk[...] @ git+https://git.example.com/platform-sdk.git@v0.1.0'\" "
                              "with the extras of the clouds you deploy to (or add a pyproject.toml or "
                              "requirements.txt naming it)")
