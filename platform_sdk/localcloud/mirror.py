"""Make the local cloud provider (and any other provider written in Python) installable by Terraform offline.

Terraform only runs providers it installed itself, so we hand it a filesystem mirror in the
"unpacked" layout whose executable is a tiny shell launcher. The launcher's bytes never change
between machines (the Python to run comes from an env var), so the `h1:` hash Terraform writes to
`.terraform.lock.hcl` is the same everywhere and lock files can be committed.

Every mirrored provider is a `(source, version, module)`: the source lives under `PROVIDER_HOSTNAME`, the
launcher runs `python -m <module>`. Cloud plug-ins list theirs (`CloudPlugin.terraform_providers`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path

PROVIDER_HOSTNAME = "platform.local"
PROVIDER_NAMESPACE = "platform-sdk"
PROVIDER_TYPE = "localcloud"
PROVIDER_SOURCE = f"{PROVIDER_HOSTNAME}/{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"
PROVIDER_VERSION = "0.1.0"
PROVIDER_MODULE = "platform_sdk.localcloud.plugin"

# The launcher reads the interpreter from here; `platform_sdk.terraform.binary.terraform_env` sets it.
PYTHON_ENV_VAR = "PLATFORM_LOCALCLOUD_PYTHON"
# Where a provider keeps the self-signed TLS certificate of its plugin handshake between starts (plugin.py):
# generating one means importing `cryptography`, a fifth of a provider's start.
TLS_DIR_ENV_VAR = "PLATFORM_LOCALCLOUD_TLS_DIR"
# Set to "1" by `platform_sdk.terraform.attach`, which starts a provider itself and has Terraform reattach to it
# (TF_REATTACH_PROVIDERS): the provider then serves its gRPC socket without TLS, as Terraform's reattach expects.
ATTACH_ENV_VAR = "PLATFORM_PROVIDER_ATTACHED"


def executable_name(provider_type: str, version: str) -> str:
    return f"terraform-provider-{provider_type}_v{version}"


def launcher(module: str) -> bytes:
    """The mirrored executable: runs `module` with the interpreter named by PYTHON_ENV_VAR.

    Changing even one byte here changes the lock-file hash: bump the provider's version when you do.
    """
    return (
        "#!/bin/sh\n"
        f'exec "${{{PYTHON_ENV_VAR}:?set {PYTHON_ENV_VAR} to a Python that can import platform_sdk}}"'
        f' -m {module} "$@"\n'
    ).encode()


EXECUTABLE_NAME = executable_name(PROVIDER_TYPE, PROVIDER_VERSION)
LAUNCHER = launcher(PROVIDER_MODULE)
LOCALCLOUD = (PROVIDER_SOURCE, PROVIDER_VERSION, PROVIDER_MODULE)
"""The local cloud provider as a mirrored provider: (source, version, module)."""
Mirrored = tuple[str, str, str]

MIRROR_DIRNAME = "localcloud-mirror"
PLUGIN_CACHE_DIRNAME = "plugin-cache"
CLI_CONFIG_NAME = "terraform.rc"


def target_platform() -> str:
    """Terraform's `<os>_<arch>` name for this machine (the mirror directory level it looks in)."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{system}_{arch}"


def provider_hash(provider: Mirrored = LOCALCLOUD) -> str:
    """The `h1:` hash Terraform records for a mirror package (Go dirhash Hash1 over one file)."""
    source, version, module = provider
    file_sum = hashlib.sha256(launcher(module)).hexdigest()
    summary = f"{file_sum}  {executable_name(source.rsplit('/', 1)[-1], version)}\n".encode()
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


def _write_if_changed(path: Path, data: bytes, mode: int) -> None:
    """Atomically (re)write a file only when its bytes differ, so concurrent runs never see a torn file."""
    if path.is_file() and path.read_bytes() == data:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def mirror_dir(cache_dir: Path) -> Path:
    """Where the filesystem mirror lives inside a project cache dir."""
    return Path(cache_dir).absolute() / MIRROR_DIRNAME


def _package_path(source: str, version: str) -> Path:
    """`<hostname>/<namespace>/<type>/<version>/<os_arch>`: where a provider lives in a mirror or plugin cache."""
    return Path(*source.split("/"), version, target_platform())


def ensure_mirror(cache_dir: Path, providers: tuple[Mirrored, ...] = (LOCALCLOUD,)) -> Path:
    """Create (idempotently) the filesystem mirror under `cache_dir` and return the mirror root."""
    root = mirror_dir(cache_dir)
    for source, version, module in providers:
        if not source.startswith(f"{PROVIDER_HOSTNAME}/"):
            raise ValueError(f"a mirrored provider's source must start with {PROVIDER_HOSTNAME}/: {source}")
        name = executable_name(source.rsplit("/", 1)[-1], version)
        _write_if_changed(root / _package_path(source, version) / name, launcher(module), 0o755)
    return root


def _hcl_string(value: str) -> str:
    """Quote a string for HCL: JSON escaping plus escaping of template sequences."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def cli_config_text(mirror: Path, plugin_cache: Path, sources: tuple[str, ...] = (PROVIDER_SOURCE,)) -> str:
    """The CLI config: the mirrored providers only from the mirror, every other provider the normal way."""
    source = ", ".join(_hcl_string(s) for s in sources)
    return (
        "# Generated by platform_sdk.localcloud.mirror; private to this project, do not edit.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {_hcl_string(str(mirror))}\n"
        f"    include = [{source}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{source}]\n"
        "  }\n"
        "}\n"
        f"plugin_cache_dir = {_hcl_string(str(plugin_cache))}\n"
    )


def plugin_cache_dir(cache_dir: Path) -> Path:
    """The shared provider plugin cache inside a project cache dir."""
    return Path(cache_dir).absolute() / PLUGIN_CACHE_DIRNAME


def _prelink_cache(mirror: Path, cache: Path, providers: tuple[Mirrored, ...] = (LOCALCLOUD,)) -> None:
    """Put the mirrored providers in the plugin cache the way Terraform would (a link to the mirror).

    Terraform's plugin cache is not safe for concurrent `init`s: two of them creating the same entry fail with
    "mkdir ...: file exists". Creating it up front means parallel inits only ever read it.
    """
    for source, version, _ in providers:
        relative = _package_path(source, version)
        entry = cache / relative
        if entry.exists() or entry.is_symlink():
            continue
        entry.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process linked it first
            entry.symlink_to(mirror / relative, target_is_directory=True)


def write_cli_config(cache_dir: Path, providers: tuple[Mirrored, ...] = (LOCALCLOUD,)) -> Path:
    """Ensure mirror and plugin cache exist, write the private CLI config file, and return its path."""
    cache_dir = Path(cache_dir).absolute()
    mirror = ensure_mirror(cache_dir, providers)
    cache = plugin_cache_dir(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    _prelink_cache(mirror, cache, providers)
    path = cache_dir / CLI_CONFIG_NAME
    sources = tuple(sorted({source for source, _, _ in providers}))
    _write_if_changed(path, cli_config_text(mirror, cache, sources).encode(), 0o644)
    return path


def is_mirrored(source: str) -> bool:
    """Whether a provider source is served from the mirror (pre-linked in the plugin cache: no download)."""
    return source.startswith(f"{PROVIDER_HOSTNAME}/")
