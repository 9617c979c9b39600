"""No module outside a cloud plug-in (`platform_sdk/providers/<cloud>/`) names a cloud.

Cloud knowledge lives in its plug-in; everything else asks the registry. This scans the source of every other
module for string constants (docstrings excluded: they may explain with examples) that name a cloud the way
code does: a cloud or backend name as a word (`"aws"`, `"gcp"`, `"s3"`), a cloud-specific Terraform type or
type prefix (`"aws_s3_bucket"`, `"google_"`, `"localcloud_"`), a cloud service id (`"lambda"`). Prose for people
(a help text saying "AWS") is not code and is not matched: the names are matched in lower case only.

Exempt: the plug-ins themselves; `platform_sdk/runtime/`, whose cloud clients move into the plug-ins' runtime
subpackages separately; `platform_sdk/localcloud/`, the local cloud's own Terraform provider, which may name
its own `localcloud_*` types (but no other cloud).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from platform_sdk import providers

PACKAGE = Path(__file__).resolve().parent.parent / "platform_sdk"
CLOUD_WORDS = re.compile(r"\b(aws|gcp|google|s3|gcs|lambda|cloudfront|rds)\b|\b(aws|google|localcloud)_\w*")
OWN_TYPES = re.compile(r"\blocalcloud_\w*")
EXEMPT = ("runtime/",)


def plugin_dirs() -> tuple[str, ...]:
    return tuple(f"providers/{name}/" for name in providers.builtin_names())


def docstring_nodes(tree: ast.AST) -> set[int]:
    """Strings that are statements of their own: module, class and function docstrings, attribute docstrings."""
    found = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            for statement in statements if isinstance(statements, list) else ():
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def cloud_names_in(path: Path, rel: str | None = None) -> list[str]:
    """`file:line: 'constant'` for every string constant in `path` that names a cloud."""
    rel = rel or path.relative_to(PACKAGE).as_posix()
    tree = ast.parse(path.read_text(), filename=str(path))
    docs = docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docs:
            continue
        text = node.value
        if rel.startswith("localcloud/"):
            text = OWN_TYPES.sub("", text)
        match = CLOUD_WORDS.search(text)
        if match:
            found.append(f"platform_sdk/{rel}:{node.lineno}: {match.group(0)!r} in {node.value[:60]!r}")
    return found


def scanned_files() -> list[Path]:
    skip = (*plugin_dirs(), *EXEMPT)
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not p.relative_to(PACKAGE).as_posix().startswith(skip)]


def test_no_module_outside_a_plugin_names_a_cloud() -> None:
    offenders = [line for path in scanned_files() for line in cloud_names_in(path)]
    assert not offenders, "cloud names outside providers/<cloud>/ (ask the registry instead):\n" + "\n".join(offenders)


def test_the_scan_finds_what_it_must(tmp_path: Path) -> None:
    """The scan itself: a cloud name in code is found with its line; docstrings and prose are not."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may say aws."""\nX = 1\nCLOUD = "aws"\nTYPES = ("google_storage_bucket",)\n'
                      'HELP = "Scan the AWS stacks."\nKEY = f"s3://{X}"\n')
    found = cloud_names_in(sample, "_cloud_name_sample.py")
    assert [line.split(": ")[0] for line in found] == ["platform_sdk/_cloud_name_sample.py:3",
                                                        "platform_sdk/_cloud_name_sample.py:4",
                                                        "platform_sdk/_cloud_name_sample.py:6"]


@pytest.mark.parametrize("name", ["aws", "gcp", "local"])
def test_every_builtin_plugin_is_scanned_as_a_plugin(name: str) -> None:
    assert (PACKAGE / "providers" / name / "plugin.py").is_file()
