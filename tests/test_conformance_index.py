"""The lookups the conformance analysis builds once per estate (`tfjson.Estate.lookup`, `referencing`, `where`)
answer exactly what the scans they replace answered, and never outlive their estate."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from platform_sdk.providers.aws.conformance import glob
from platform_sdk.tfjson import Block, Estate

POLICY = json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                    "Resource": "${aws_s3_bucket.a.arn}/*"}]})


def documents() -> dict[str, Any]:
    """Two stacks: `data` owns two buckets and exports one; `app` configures both, one across stacks."""
    return {
        "data": {
            "resource": {
                "aws_s3_bucket": {"a": {"bucket": "acme-a"}, "b": {"bucket": "acme-b"}},
                "aws_s3_bucket_policy": {
                    "pa": {"bucket": "${aws_s3_bucket.a.id}", "policy": POLICY},
                    "pboth": {"bucket": "${aws_s3_bucket.a.id}${aws_s3_bucket.b.id}"},
                    "pliteral": {"bucket": "acme-b"},
                    "pnone": {},
                },
            },
            "output": {"a_arn": {"value": "${aws_s3_bucket.a.arn}"}},
        },
        "app": {
            "data": {"terraform_remote_state": {"cross-stack-reference-input-data": {"backend": "local"}}},
            "resource": {
                "aws_s3_bucket_policy": {
                    "remote": {"bucket": "${data.terraform_remote_state.cross-stack-reference-input-data"
                                         ".outputs.a_arn}"},
                    "listed": {"bucket": ["${aws_s3_bucket.c.id}"]},
                },
                "aws_s3_bucket": {"c": {"bucket": "acme-c"}},
            },
        },
    }


def derive_arn(block: Block, attribute: str, estate: Estate) -> str | None:
    if block.type == "aws_s3_bucket" and attribute in ("arn", "id"):
        name = block.body["bucket"]
        return f"arn:aws:s3:::{name}" if attribute == "arn" else name
    return None


def scan(estate: Estate, tf_type: str, attribute: str, block: Block) -> list[Block]:
    """What the analysis did before the index: test every block of the type."""
    return [b for b in estate.blocks(tf_type) if estate.references_block(b.stack, b.body.get(attribute), block)]


def test_referencing_is_the_scan_it_replaces() -> None:
    estate = Estate(documents(), derive=derive_arn)
    for bucket in estate.blocks("aws_s3_bucket"):
        assert estate.referencing("aws_s3_bucket_policy", "bucket", bucket) == \
            scan(estate, "aws_s3_bucket_policy", "bucket", bucket)
    a = estate.block("data", "aws_s3_bucket.a")
    b = estate.block("data", "aws_s3_bucket.b")
    c = estate.block("app", "aws_s3_bucket.c")
    assert a is not None and b is not None and c is not None
    # across stacks (remote state), a template naming two blocks, a list value; a literal name is no reference
    assert [p.name for p in estate.referencing("aws_s3_bucket_policy", "bucket", a)] == ["remote", "pa", "pboth"]
    assert [p.name for p in estate.referencing("aws_s3_bucket_policy", "bucket", b)] == ["pboth"]
    assert [p.name for p in estate.referencing("aws_s3_bucket_policy", "bucket", c)] == ["listed"]
    assert estate.referencing("aws_s3_bucket_notification", "bucket", a) == []


def test_where_is_the_scan_it_replaces() -> None:
    estate = Estate(documents(), derive=derive_arn)

    def where_scan(value: str, default: Any) -> list[str]:
        return [p.name for p in estate.blocks("aws_s3_bucket_policy")
                if estate.canonical(p.stack, p.body.get("bucket", default)) == value]
    # the derived literal of a reference and the literal itself are one value
    assert [p.name for p in estate.where("aws_s3_bucket_policy", "bucket", "acme-b")] == \
        where_scan("acme-b", None) == ["pliteral"]
    assert [p.name for p in estate.where("aws_s3_bucket_policy", "bucket", "arn:aws:s3:::acme-a")] == \
        where_scan("arn:aws:s3:::acme-a", None) == ["remote"]
    # an absent attribute is its default's canonical text, and each default has its own table
    assert [p.name for p in estate.where("aws_s3_bucket_policy", "bucket", "null")] == ["pnone"]
    assert [p.name for p in estate.where("aws_s3_bucket_policy", "bucket", "", default="")] == ["pnone"]
    # several values: every block holding one of them, once, in blocks() order whatever the values' order
    names = [p.name for p in estate.where("aws_s3_bucket_policy", "bucket", "acme-b", "arn:aws:s3:::acme-a",
                                          "acme-b")]
    assert names == [p.name for p in estate.blocks("aws_s3_bucket_policy") if p.name in ("pliteral", "remote")]


def test_a_lookup_is_built_once_and_never_outlives_its_estate_or_its_derive_rules() -> None:
    estate = Estate(documents(), derive=derive_arn)
    builds: list[int] = []

    def build() -> list[str]:
        builds.append(1)
        return [estate.canonical("data", "${aws_s3_bucket.a.arn}")]
    assert estate.lookup(("test", "arn"), build) == ["arn:aws:s3:::acme-a"]
    assert estate.lookup(("test", "arn"), build) == ["arn:aws:s3:::acme-a"]
    assert len(builds) == 1
    estate.derive = None  # other rules, other answers: every table is built again
    assert estate.lookup(("test", "arn"), build) == ["${data:aws_s3_bucket.a.arn}"]
    assert len(builds) == 2
    fresh = Estate(documents(), derive=derive_arn)
    assert fresh.lookup(("test", "arn"), lambda: ["other"]) == ["other"]
    assert [p.name for p in fresh.where("aws_s3_bucket_policy", "bucket", "arn:aws:s3:::acme-a")] == ["remote"]


def test_changed_documents_mean_a_new_estate_and_new_answers() -> None:
    """The mutation tests take evidence away by building a new Estate from changed documents: its index must see
    the change, whatever the previous estate had built."""
    docs = documents()
    before = Estate(docs, derive=derive_arn)
    a = before.block("data", "aws_s3_bucket.a")
    assert a is not None and [p.name for p in before.referencing("aws_s3_bucket_policy", "bucket", a)] == \
        ["remote", "pa", "pboth"]
    changed = documents()
    del changed["data"]["resource"]["aws_s3_bucket_policy"]["pa"]
    after = Estate(changed, derive=derive_arn)
    a_after = after.block("data", "aws_s3_bucket.a")
    assert a_after is not None
    assert [p.name for p in after.referencing("aws_s3_bucket_policy", "bucket", a_after)] == ["remote", "pboth"]


@pytest.mark.parametrize("pattern", ["arn:aws:s3:::acme-a", "arn:aws:s3:::acme-a/*", "arn:aws:s3:::acme-*/key",
                                     "*", "", "arn:aws:s3:::acme-?/*", "s3:Get*", "S3:GETOBJECT", "a.b*",
                                     "arn:aws:s3:::acme-a/*/*", "(x)*"])
@pytest.mark.parametrize("text", ["arn:aws:s3:::acme-a", "arn:aws:s3:::acme-a/key", "arn:aws:s3:::acme-b/key",
                                  "s3:GetObject", "", "a.bc", "axbc", "arn:aws:s3:::acme-a/x\ny/z", "(x)y"])
def test_glob_answers_as_the_iam_wildcard_expression(pattern: str, text: str) -> None:
    for ignore_case in (False, True):
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
        assert glob(pattern, text, ignore_case) is (re.fullmatch(regex, text, flags) is not None)


def test_referenced_by_is_the_scan_it_replaces() -> None:
    estate = Estate(documents(), derive=derive_arn)
    for stack, value in [("data", "${aws_s3_bucket.b.id}/x/${aws_s3_bucket.a.arn}"), ("data", "acme-a"),
                         ("app", "${data.terraform_remote_state.cross-stack-reference-input-data.outputs.a_arn}"),
                         ("app", ["${aws_s3_bucket.c.id}", {"k": "${aws_s3_bucket.c.arn}"}]), ("app", None)]:
        expected = [b for b in estate.blocks("aws_s3_bucket") if estate.references_block(stack, value, b)]
        assert estate.referenced_by(stack, value, "aws_s3_bucket") == expected
    both = estate.referenced_by("data", "${aws_s3_bucket.b.id}/x/${aws_s3_bucket.a.arn}", "aws_s3_bucket")
    assert [b.name for b in both] == ["a", "b"]
    assert estate.referenced_by("data", "${aws_s3_bucket.a.arn}", "aws_s3_bucket_policy") == []
