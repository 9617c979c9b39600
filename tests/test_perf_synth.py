"""Synthesis speed-ups that must not change a byte (issue 21): stack resources written without the engine
(platform_sdk.cdk.document.write_documents) and the conformance index answering each question once (tfjson).

The reference for the files is the engine itself: the same app synthesized with `document.write_directly = False`
hands every document to CDKTF, which writes it; both runs must produce byte-identical files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.cdk import document, engine
from platform_sdk.cdk.raw import RawDataSource, RawProvider, RawResource
from platform_sdk.tfjson import Block, Estate, StackRecord
from tools.golden import ENVS, estate_copy


def files(outdir: Path) -> dict[str, bytes]:
    return {p.relative_to(outdir).as_posix(): p.read_bytes() for p in sorted(outdir.rglob("*")) if p.is_file()}


def synth_both_ways(tmp_path: Path, build: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, bytes],
                                                                                          dict[str, bytes], int]:
    """Files of `build(app)` written directly and by the engine, and how many stacks were written directly."""
    written: list[int] = []
    original = document.write_documents

    def counting(outdir: Path) -> None:
        written.append(len(document._written))
        original(outdir)

    monkeypatch.setattr(document, "write_documents", counting)
    out = {}
    for direct in (True, False):
        monkeypatch.setattr(document, "write_directly", direct)
        app = engine.App(outdir=str(tmp_path / f"out-{direct}"), stack_traces=False)
        build(app)
        app.synth()
        out[direct] = files(tmp_path / f"out-{direct}")
    return out[True], out[False], written[0]


def test_odd_values_are_written_as_the_engine_writes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build(app: Any) -> None:
        stack = engine.TerraformStack(app, "odd")
        engine.LocalBackend(stack, path="odd.tfstate")
        # a fractional number in the engine's own part, which the writer keeps as Node printed it
        RawProvider(stack, "null", "null", "hashicorp/null", "3.2.0", {"weight": 1e-7})
        first = RawResource(stack, "first", "null_resource", {
            "none": None, "listed": [1, None, {}, [], {"x": None}], "empty_object": {}, "empty_list": [],
            "whole_float": 2.0, "fraction": 0.25, "text": "ünï \u2028 \x7f \x01 \"q\" \\ {}",
            "nested": {"deeper": {"deepest": {}}}, "flag": True, "zero": 0, "negative": -3.5,
        })
        RawResource(stack, "second", "null_resource", {"after": first.ref("id")}).after(first)
        RawDataSource(stack, "look", "null_data_source", {"inputs": {"a": "b"}})

    direct, by_engine, written = synth_both_ways(tmp_path, build, monkeypatch)
    assert written == 1, "the stack's resources should have been written without the engine"
    assert direct == by_engine


def test_values_the_writer_cannot_format_go_through_the_engine(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def build(app: Any) -> None:
        for name, value in (("exponent", 1e-7), ("beyond-2-53", 2**60), ("big-float", 1.2345678901234567e19),
                            ("astral", {"\U0001f600": 1, "\uffff": 2})):
            stack = engine.TerraformStack(app, name)
            engine.LocalBackend(stack, path=f"{name}.tfstate")
            RawResource(stack, "r", "null_resource", {"value": value})

    direct, by_engine, written = synth_both_ways(tmp_path, build, monkeypatch)
    assert written == 0, "no stack holding such a value may be written without the engine"
    assert direct == by_engine


@pytest.mark.parametrize("env_name", ENVS)
def test_every_example_environment_is_byte_identical_to_the_engines_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_name: str) -> None:
    from platform_sdk.envs import find_environment
    from platform_sdk.loader import load_services
    from platform_sdk.profile import load_profile
    from platform_sdk.project import Project
    from platform_sdk.synth.app import synthesize

    project = Project(estate_copy(tmp_path / "estate"))
    env = find_environment(project.envs_dir, env_name)
    written: list[int] = []
    original = document.write_documents
    monkeypatch.setattr(document, "write_documents",
                        lambda outdir: (written.append(len(document._written)), original(outdir))[1])
    out = {}
    for direct in (True, False):
        monkeypatch.setattr(document, "write_directly", direct)
        outdir = tmp_path / f"out-{direct}"
        services = load_services(project.services_dir)
        synthesize(project, env, services, profile=load_profile(project, env), outdir=outdir)
        out[direct] = files(outdir)
        shutil.rmtree(project.root / ".platform" / "cache", ignore_errors=True)
    assert written[0] > 0, "the example stacks should be written without the engine"
    assert set(out[True]) == set(out[False])
    differing = [name for name in out[True] if out[True][name] != out[False][name]]
    assert not differing, f"differ from the engine's own output: {differing[:5]}"


# -- the conformance index -----------------------------------------------------------------------------------
def estate() -> Estate:
    documents = {
        "a": {"resource": {"aws_s3_bucket": {"files": {"bucket": "f"}},
                           "aws_iam_role_policy": {"p": {"role": "${aws_iam_role.r.name}",
                                                         "policy": "${aws_s3_bucket.files.arn}/*"}},
                           "aws_iam_role": {"r": {"name": "r"}}},
              "output": {"cross-stack-output-aws_s3_bucketfilesarn": {"value": "${aws_s3_bucket.files.arn}"},
                         "joined": {"value": "${aws_s3_bucket.files.bucket}-x"}}},
        "b": {"data": {"terraform_remote_state": {"cross-stack-reference-input-a": {}}},
              "resource": {"aws_sqs_queue": {"q": {
                  "arn_of_files": "${data.terraform_remote_state.cross-stack-reference-input-a.outputs"
                                  ".cross-stack-output-aws_s3_bucketfilesarn}",
                  "joined": "${data.terraform_remote_state.cross-stack-reference-input-a.outputs.joined}"}}}},
    }
    stacks = {"a": StackRecord("a", "aws", "aws", {"aws_s3_bucket.files": "svc.files", "aws_iam_role.r": "svc.fn",
                                                   "aws_iam_role_policy.p": "svc.fn"}),
              "b": StackRecord("b", "aws", "aws", {"aws_sqs_queue.q": "svc.q"})}
    return Estate(documents, stacks)


def test_the_index_answers_repeated_questions_the_same_way() -> None:
    index = estate()
    bucket = index.block("a", "aws_s3_bucket.files")
    assert bucket is not None
    queue = index.block("b", "aws_sqs_queue.q")
    assert queue is not None
    for _ in range(2):  # the second round is answered from the caches
        ref = index.ref("b", queue.body["arn_of_files"])
        assert ref is not None and ref.block == bucket and ref.attribute == "arn"
        assert [r.block for r in index.refs("a", "${aws_s3_bucket.files.arn}/*")] == [bucket]
        assert index.references_block("a", {"x": ["${aws_s3_bucket.files.arn}/*"]}, bucket)
        assert not index.references_block("a", "no reference", bucket)
        assert [b.address for b in index.owned_by("svc.fn")] == ["aws_iam_role.r", "aws_iam_role_policy.p"]
        assert [b.address for b in index.owned_by("svc.fn", "aws_iam_role")] == ["aws_iam_role.r"]
        assert index.owned_by("svc.nothing") == []


def test_new_derive_rules_change_what_a_cross_stack_template_resolves_to() -> None:
    index = estate()
    joined = index.block("b", "aws_sqs_queue.q").body["joined"]  # type: ignore[union-attr]
    before = index.resolve("b", joined[2:-1])
    assert before == "${a:aws_s3_bucket.files.bucket}-x"

    def derive(block: Block, attribute: str, _: Estate) -> str | None:
        return block.body.get("bucket") if attribute == "bucket" else None

    index.derive = derive  # what conformance.examine does with an Estate it is given
    assert index.resolve("b", joined[2:-1]) == "f-x"
