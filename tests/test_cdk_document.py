"""Resources as plain Python objects, one engine construct per stack: the same Terraform as CDKTF's own
constructs, references between stacks wired the way CDKTF wires them, and a bounded number of engine calls.

The reference is CDKTF itself: every scenario is built twice in one process, once with a jsii construct per
resource (`Jsii*` below: what platform_sdk.cdk.raw was before, CDKTF resolving its own tokens and wiring its own
cross-stack references) and once with platform_sdk.cdk.raw, and the synthesized files must be byte-identical.
"""

from __future__ import annotations

import filecmp
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.cdk import engine, expressions
from platform_sdk.cdk.document import StackDocument, finalize, make_unique_id, unrendered
from platform_sdk.cdk.raw import RawDataSource, RawProvider, RawResource

cdktf = engine.cdk  # the engine itself (imported through platform_sdk.cdk.engine, which points jsii at Node)


# -- the reference: one jsii construct per resource, CDKTF's own tokens -----------------------------------------
class JsiiResource(cdktf.TerraformResource):
    def __init__(self, scope: Any, id: str, terraform_type: str, attributes: dict[str, Any]) -> None:
        super().__init__(scope, id, terraform_resource_type=terraform_type,
                         terraform_generator_metadata=cdktf.TerraformProviderGeneratorMetadata(provider_name="x"))
        self.attributes = attributes

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self.attributes

    def ref(self, attribute: str) -> str:
        return self.get_string_attribute(attribute)

    def after(self, *others: Any) -> None:
        self.depends_on = [("data." if isinstance(o, cdktf.TerraformDataSource) else "")
                           + f"{o.terraform_resource_type}.{o.friendly_unique_id}" for o in others]


class JsiiDataSource(cdktf.TerraformDataSource):
    def __init__(self, scope: Any, id: str, terraform_type: str, attributes: dict[str, Any]) -> None:
        super().__init__(scope, id, terraform_resource_type=terraform_type,
                         terraform_generator_metadata=cdktf.TerraformProviderGeneratorMetadata(provider_name="x"))
        self.attributes = attributes

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self.attributes


@dataclass
class Kit:
    """How a scenario makes things: the reference (CDKTF constructs) or ours (documents)."""

    resource: Callable[..., Any]
    data: Callable[..., Any]
    fn: Any
    token: Any
    output: Callable[..., None]
    module_ref: Callable[[Any, str, str], str]
    done: Callable[[], None]


def reference_kit() -> Kit:
    return Kit(JsiiResource, JsiiDataSource, cdktf.Fn, cdktf.Token,
               lambda stack, id, value, **kw: cdktf.TerraformOutput(stack, id, value=value, **kw),
               lambda module, _id, output: module.get_string(output), lambda: None)


def our_kit() -> Kit:
    return Kit(RawResource, RawDataSource, engine.Fn, engine.Token,
               lambda stack, id, value, **kw: StackDocument.of(stack).output(id, value, **kw),
               lambda module, module_id, output: StackDocument.of(module.node.scope).module_output(module_id, output),
               finalize)


def synth(outdir: Path, scenario: Callable[[Any, Kit], None], kit: Kit) -> Path:
    app = engine.App(outdir=str(outdir), stack_traces=False)
    scenario(app, kit)
    kit.done()
    app.synth()
    return outdir


def assert_identical(reference: Path, ours: Path) -> None:
    files = sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*.json"))
    assert files == sorted(p.relative_to(ours).as_posix() for p in ours.rglob("*.json"))
    _, mismatch, errors = filecmp.cmpfiles(reference, ours, files, shallow=False)
    for rel in mismatch:
        assert (ours / rel).read_text() == (reference / rel).read_text(), rel
    assert not errors


def stack_with_provider(app: Any, name: str, backend: Callable[[Any], Any]) -> Any:
    stack = engine.TerraformStack(app, name)
    backend(stack)
    RawProvider(stack, "x", "x", "example.com/x/x", "~> 1", {"region": "r"})
    return stack


# -- scenarios -----------------------------------------------------------------------------------------------
def functions_scenario(app: Any, kit: Kit) -> None:
    """Every function our Fn offers, with literals, references, mixed strings and lists as arguments."""
    stack = stack_with_provider(app, "fns", lambda s: engine.LocalBackend(s, path="fns.tfstate"))
    src = kit.resource(stack, "src", "x_thing", {"name": "n"})
    url, arn = src.ref("url"), src.ref("arn")
    fn, token = kit.fn, kit.token
    kit.resource(stack, "use", "x_thing", {
        "element_split": token.as_string(fn.element(fn.split("/", url), 2)),
        "split_mixed": token.as_string(fn.split("/", f"https://{url}/x")),
        "date": f"final-{fn.formatdate('YYYYMMDDhhmmss', fn.timestamp())}",
        "join": fn.join(",", ["a", url, 'b"c', "d${x}", "line\nbreak"]),
        "join_ref": fn.join("-", token.as_list(url)),
        "replace": fn.replace(url, "https://", ""),
        "lower": fn.lower(url), "upper": fn.upper("abc"),
        "json": fn.jsonencode({"a": url, "b": [1, True, 2.5], "c": {"d": "e"}}),
        "concat": token.as_string(fn.concat([[url], ["x", "y"]])),
        "merge": token.as_string(fn.merge([{"a": url}, {"b": "c"}])),
        "coalesce": token.as_string(fn.coalesce([url, "fallback"])),
        "substr": fn.substr(arn, 0, 12),
        "format": fn.format("%s-%d", [url, 3]),
        "tostring": fn.tostring(5),
        "trims": fn.trimsuffix(fn.trimprefix(url, "https://"), "/"),
        "hashes": [fn.md5(url), fn.sha256("x"), fn.base64encode("x\ny")],
        "tolist": fn.tolist([url, "x"]),
        "policy": json.dumps({"Resource": [arn, f"{arn}/*"], "Condition": {"ArnLike": {"aws:SourceArn": url}}}),
    })


def cross_stack_scenario(app: Any, kit: Kit) -> None:
    """Three stacks on three backends: references in every position, functions, lists, modules, outputs."""
    a = stack_with_provider(app, "env-a", lambda s: engine.LocalBackend(s, path="../../state/a.tfstate"))
    b = stack_with_provider(app, "env-b", lambda s: engine.S3Backend(s, bucket="b", key="k/b.tfstate",
                                                                       region="eu-west-1", dynamodb_table="t"))
    c = stack_with_provider(app, "env-c", lambda s: engine.GcsBackend(s, bucket="g", prefix="p/c"))
    bucket = kit.resource(a, "data.bucket", "x_bucket", {"name": "n", "tags": {"a": "b"}})
    subnets = kit.data(a, "subnets", "x_subnets", {"filter": [{"name": "vpc", "values": ["v"]}]})
    role = kit.resource(a, "role", "x_role", {"bucket": bucket.ref("name")})
    role.after(bucket)
    module = engine.TerraformHclModule(a, "users_module", source="example.com/acme/db/x", version="~> 4",
                                       variables={"engine": "postgres"})
    fn = kit.resource(b, "fn", "x_function", {
        "direct": bucket.ref("url"),
        "mixed": f"gs://{bucket.ref('name')}/x",
        "split": kit.token.as_string(kit.fn.element(kit.fn.split("/", bucket.ref("url")), 2)),
        "subnets": subnets.get_list_attribute("ids"),
        "nested": {"ids": subnets.get_list_attribute("ids"), "more": [{"arn": bucket.ref("arn")}]},
        "module": kit.module_ref(module, "users_module", "url"),
        "policy": json.dumps({"Resource": [bucket.ref("arn"), f"{bucket.ref('arn')}/*"]}),
        "local": role.ref("id"),
        "none": None, "empty": {}, "empty_list": [], "number": 1.5, "big": 10 ** 12, "flag": False,
    })
    kit.resource(c, "g", "x_function", {"direct": bucket.ref("url"), "fn": fn.ref("id"),
                                        "module": kit.module_ref(module, "users_module", "url")})
    kit.output(b, "fn_id", fn.ref("id"))
    kit.output(c, "from_a", bucket.ref("url"), description="the bucket", sensitive=True)


def lifecycle_scenario(app: Any, kit: Kit) -> None:
    """Meta-arguments: provider aliases, lifecycles, depends_on on data sources, overrides."""
    stack = stack_with_provider(app, "meta", lambda s: engine.LocalBackend(s, path="meta.tfstate"))
    alias = RawProvider(stack, "x_east", "x", "example.com/x/x", "~> 1", {"region": "east"})
    alias.alias = "east"
    lookup = kit.data(stack, "lookup", "x_lookup", {})
    cert = kit.resource(stack, "cert", "x_cert", {"domain": "d"})
    cert.provider = alias
    cert.lifecycle = engine.TerraformResourceLifecycle(create_before_destroy=True,
                                                       ignore_changes=["tags"])
    cert.after(lookup)
    cert.add_override("timeouts.create", "30m")
    kit.output(stack, "validation", cert.interpolation_for_attribute("domain_validation_options"))


def values_scenario(app: Any, kit: Kit) -> None:
    """Values the Python writer must print exactly as the engine's json-stable-stringify: control characters,
    non-ASCII text, line and paragraph separators, quotes and backslashes, fractional and large numbers, empty
    containers at every depth."""
    stack = stack_with_provider(app, "values", lambda s: engine.LocalBackend(s, path="values.tfstate"))
    text = "".join(chr(code) for code in range(1, 0x80)) + "é ü ß 漢字 \u2028 \u2029 \ufeff \uffff \\ \" /"
    kit.resource(stack, "values", "x_thing", {
        "text": text, f"key {text[40:60]}": "key with punctuation", "ünïcode_kéy": ["ÿ", "€"],
        "numbers": [0.5, 0.0001, 1.25e-4, 123456789.125, 9007199254740991, -3, 0],
        "empties": {"a": {}, "b": [], "c": [{}, []], "d": {"e": {"f": []}}},
        "booleans": [True, False], "nested": [[["deep"]]],
    })


@pytest.mark.parametrize("scenario", [functions_scenario, cross_stack_scenario, lifecycle_scenario,
                                      values_scenario],
                         ids=lambda s: s.__name__)
def test_synthesized_files_are_byte_identical_to_cdktfs_own(scenario: Callable[[Any, Kit], None],
                                                             tmp_path: Path) -> None:
    reference = synth(tmp_path / "reference", scenario, reference_kit())
    ours = synth(tmp_path / "ours", scenario, our_kit())
    assert_identical(reference, ours)


def test_references_between_stacks_are_wired_as_outputs_remote_state_and_dependencies(tmp_path: Path) -> None:
    out = synth(tmp_path / "ours", cross_stack_scenario, our_kit())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stacks"]["env-b"]["dependencies"] == ["env-a"]
    assert sorted(manifest["stacks"]["env-c"]["dependencies"]) == ["env-a", "env-b"]
    a = json.loads((out / "stacks/env-a/cdk.tf.json").read_text())
    assert a["output"]["cross-stack-output-x_bucketdatabucketurl"] == {"sensitive": True,
                                                                       "value": "${x_bucket.databucket.url}"}
    assert a["output"]["cross-stack-output-moduleusers_moduleurl"]["value"] == "${module.users_module.url}"
    b = json.loads((out / "stacks/env-b/cdk.tf.json").read_text())
    fn = b["resource"]["x_function"]["fn"]
    remote = "data.terraform_remote_state.cross-stack-reference-input-env-a.outputs"
    assert fn["split"] == f"${{element(split(\"/\", {remote}.cross-stack-output-x_bucketdatabucketurl), 2)}}"
    assert fn["local"] == f"${{{remote}.cross-stack-output-x_roleroleid}}"
    assert a["resource"]["x_role"]["role"]["bucket"] == "${x_bucket.databucket.name}"
    assert b["data"]["terraform_remote_state"]["cross-stack-reference-input-env-a"]["config"] == {
        "path": "../../state/a.tfstate"}
    assert not unrendered(out)


# -- engine calls ----------------------------------------------------------------------------------------------
def count_engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from jsii._kernel.providers import process

    calls = [0]
    original = process._NodeProcess.send

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(process._NodeProcess, "send", counting)
    return calls


def build_estate(outdir: Path, stacks: int, resources: int) -> None:
    app = engine.App(outdir=str(outdir), stack_traces=False)
    first: Any = None
    for s in range(stacks):
        stack = stack_with_provider(app, f"s{s}", lambda st, s=s: engine.LocalBackend(st, path=f"{s}.tfstate"))
        document = StackDocument.of(stack, f"s{s}")
        previous = None
        for i in range(resources):
            attrs: dict[str, Any] = {"name": f"r{i}", "tags": {"i": str(i)}}
            if previous is not None:
                attrs["after"] = previous.ref("id")
            if first is not None and i == 0:
                attrs["shared"] = first.ref("arn")  # one reference from every stack to the first one
            previous = RawResource(document, f"r{i}", "x_thing", attrs)
            first = first or previous
            document.output(f"o{i}", previous.ref("id"))
    finalize()
    app.synth()


def test_engine_calls_do_not_grow_with_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bounded number of round trips to Node per stack, however many resources and outputs it holds."""
    build_estate(tmp_path / "warm", 1, 1)  # the engine's own start-up calls are not ours to count
    calls = count_engine_calls(monkeypatch)
    counts = {}
    for stacks, resources in ((3, 10), (3, 200), (6, 10)):
        calls[0] = 0
        build_estate(tmp_path / f"{stacks}x{resources}", stacks, resources)
        counts[(stacks, resources)] = calls[0]
    assert counts[(3, 200)] == counts[(3, 10)], counts
    per_stack = (counts[(6, 10)] - counts[(3, 10)]) / 3
    assert per_stack <= 30, counts
    out = json.loads((tmp_path / "3x200" / "stacks/s0/cdk.tf.json").read_text())
    assert len(out["resource"]["x_thing"]) == 200 and len(out["output"]) == 201  # + the one s1 and s2 read


# -- misuse is caught ------------------------------------------------------------------------------------------
def test_two_resources_with_one_id_in_a_stack_are_refused(tmp_path: Path) -> None:
    app = engine.App(outdir=str(tmp_path), stack_traces=False)
    stack = engine.TerraformStack(app, "s")
    RawResource(stack, "x", "x_thing", {})
    with pytest.raises(ValueError, match="There is already a Construct with name 'x' in TerraformStack \\[s\\]"):
        RawDataSource(stack, "x", "x_other", {})
    finalize()


def test_a_reference_handed_to_an_engine_construct_is_caught_and_resolve_fixes_it(tmp_path: Path) -> None:
    """An engine construct of a platform team's own cannot read our markers: ctx.resolve renders them."""
    def build(outdir: Path, resolved: bool) -> Path:
        app = engine.App(outdir=str(outdir), stack_traces=False)
        a = stack_with_provider(app, "a", lambda s: engine.LocalBackend(s, path="a.tfstate"))
        b = stack_with_provider(app, "b", lambda s: engine.LocalBackend(s, path="b.tfstate"))
        bucket = RawResource(a, "bucket", "x_bucket", {})
        value = {"here": bucket.ref("arn")}
        JsiiResource(a, "own", "x_own", StackDocument.of(a).resolve(value) if resolved else value)
        JsiiResource(b, "theirs", "x_own", StackDocument.of(b).resolve(value) if resolved else value)
        finalize()
        app.synth()
        return outdir

    assert unrendered(build(tmp_path / "raw", resolved=False))
    out = build(tmp_path / "resolved", resolved=True)
    assert not unrendered(out)
    b = json.loads((out / "stacks/b/cdk.tf.json").read_text())
    assert b["resource"]["x_own"]["theirs"]["here"].startswith("${data.terraform_remote_state.")
    assert json.loads((out / "manifest.json").read_text())["stacks"]["b"]["dependencies"] == ["a"]


def test_an_engine_token_in_our_resource_is_resolved_by_the_engine(tmp_path: Path) -> None:
    """A platform team's own construct in another stack: CDKTF wires its token, next to our own wiring."""
    app = engine.App(outdir=str(tmp_path), stack_traces=False)
    a = stack_with_provider(app, "a", lambda s: engine.LocalBackend(s, path="a.tfstate"))
    b = stack_with_provider(app, "b", lambda s: engine.LocalBackend(s, path="b.tfstate"))
    own = JsiiResource(a, "own", "x_own", {})
    ours = RawResource(a, "ours", "x_thing", {})
    RawResource(b, "user", "x_thing", {"own": own.get_string_attribute("id"), "ours": ours.ref("id"),
                                       "fn": engine.Fn.element(engine.Fn.split("/", own.get_string_attribute("id")),
                                                               0)})
    finalize()
    app.synth()
    b_doc = json.loads((tmp_path / "stacks/b/cdk.tf.json").read_text())
    user = b_doc["resource"]["x_thing"]["user"]
    remote = "data.terraform_remote_state.cross-stack-reference-input-a.outputs"
    assert user["own"] == f"${{{remote}.cross-stack-output-x_ownownid}}"
    assert user["ours"] == f"${{{remote}.cross-stack-output-x_thingoursid}}"
    assert user["fn"] == f"${{element(split(\"/\", {remote}.cross-stack-output-x_ownownid), 0)}}"
    assert list(b_doc["data"]["terraform_remote_state"]) == ["cross-stack-reference-input-a"]


def test_references_are_spent_once_their_app_is_emitted() -> None:
    marker = expressions.Call("timestamp", []).marker()
    expressions.forget()
    with pytest.raises(ValueError, match="earlier synthesis"):
        expressions.resolve(marker, None)  # type: ignore[arg-type]


def test_fn_names_we_do_not_render_go_to_the_engine_unless_they_hold_references(tmp_path: Path) -> None:
    assert cdktf.Token.is_unresolved(engine.Fn.abs(-3))
    app = engine.App(outdir=str(tmp_path), stack_traces=False)
    thing = RawResource(engine.TerraformStack(app, "s"), "t", "x_thing", {})
    with pytest.raises(NotImplementedError, match="_FUNCTIONS"):
        engine.Fn.abs(thing.ref("count"))
    finalize()


def test_logical_ids_follow_cdktf() -> None:
    assert make_unique_id("on-demand-package") == "on-demand-package"
    assert make_unique_id("cross-stack-output-aws_s3_bucket.x.arn") == "cross-stack-output-aws_s3_bucketxarn"
    long = "a" * 300
    assert make_unique_id(long).startswith("a" * 240 + "_") and len(make_unique_id(long)) == 249


def test_a_failed_synthesis_leaves_nothing_for_the_next_one(tmp_path: Path) -> None:
    from platform_sdk.cdk.document import _pending, abandon

    app = engine.App(outdir=str(tmp_path / "failed"), stack_traces=False)
    stale = RawResource(engine.TerraformStack(app, "s"), "t", "x_thing", {})
    marker = stale.ref("id")
    assert _pending
    abandon()  # what synthesize() does whatever happened
    assert not _pending
    with pytest.raises(ValueError, match="earlier synthesis"):
        expressions.resolve(marker, stale.document)
