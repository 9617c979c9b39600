"""Find the Terraform binary and build the environment every Terraform subprocess runs with.

Terraform must behave the same on a laptop, in CI and offline: no prompts, no update checks, no
user-level CLI config, and the providers written in Python (the local cloud's, and any other plug-in's
`terraform_providers`) found through our own filesystem mirror.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import platform_sdk
from platform_sdk import providers
from platform_sdk.localcloud import mirror

TERRAFORM_ENV_VAR = "PLATFORM_TERRAFORM"
CACHE_DIRNAME = ".platform"

INSTALL_HINT = (
    "Install one of:\n"
    "  - Terraform 1.0.3 (works offline here): bash scripts/install_terraform.sh .platform/bin\n"
    "    then export PLATFORM_TERRAFORM=$PWD/.platform/bin/terraform\n"
    "  - OpenTofu (`tofu`) or Terraform (`terraform`) from their official releases, on PATH\n"
    "Or point PLATFORM_TERRAFORM at an existing binary."
)


class TerraformNotFound(Exception):
    """No usable Terraform/OpenTofu binary; the message says how to install one."""


def find_terraform(environ: Mapping[str, str] | None = None) -> Path:
    """Return the binary to run: $PLATFORM_TERRAFORM, else `tofu`, else `terraform` on PATH."""
    env = os.environ if environ is None else environ
    explicit = env.get(TERRAFORM_ENV_VAR, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_absolute():
            found = shutil.which(explicit, path=env.get("PATH"))
            path = Path(found) if found else path.absolute()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise TerraformNotFound(f"{TERRAFORM_ENV_VAR}={explicit} is not an executable file.\n{INSTALL_HINT}")
    for name in ("tofu", "terraform"):
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return Path(found)
    raise TerraformNotFound(
        f"No `tofu` or `terraform` on PATH and {TERRAFORM_ENV_VAR} is not set.\n{INSTALL_HINT}"
    )


def project_cache_dir(work_dir: Path) -> Path:
    """The per-project cache dir (`<work_dir>/.platform`) holding mirror, plugin cache and CLI config."""
    return Path(work_dir).absolute() / CACHE_DIRNAME


def _package_parent() -> str:
    """The directory that must be on sys.path for `python -m platform_sdk.localcloud.plugin`."""
    return str(Path(platform_sdk.__file__).resolve().parent.parent)


def terraform_env(
    work_dir: Path, base: Mapping[str, str] | None = None, cache_dir: Path | None = None
) -> dict[str, str]:
    """Environment for Terraform subprocesses run for the project at `work_dir`.

    `base` defaults to os.environ (Terraform needs PATH and HOME). `cache_dir` defaults to
    `<work_dir>/.platform`; the mirror, the plugin cache and the CLI config all live there, so a
    cached provider never outlives the mirror it links to.
    """
    env = dict(os.environ if base is None else base)
    cache = Path(cache_dir).absolute() if cache_dir is not None else project_cache_dir(work_dir)
    mirrored = tuple((p.source, p.version, p.module) for plugin in providers.plugins().values()
                     for p in plugin.terraform_providers)
    cli_config = mirror.write_cli_config(cache, mirrored)
    plugin_cache = mirror.plugin_cache_dir(cache)

    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["CHECKPOINT_DISABLE"] = "1"
    # Terraform re-execs itself under a panic wrapper; without it a signal reaches the real process.
    env["TF_FORK"] = "0"
    env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    env["TF_PLUGIN_CACHE_DIR"] = str(plugin_cache)
    env[mirror.PYTHON_ENV_VAR] = sys.executable
    env[mirror.TLS_DIR_ENV_VAR] = str(cache / "localcloud-tls")

    # The provider runs with Terraform's cwd; make platform_sdk importable even if not pip-installed.
    parent = _package_parent()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if parent not in paths:
        env["PYTHONPATH"] = os.pathsep.join([parent, *paths])
    return env
