"""The import layering of pyproject.toml's `[tool.importlinter]` contracts holds (run with the real lint-imports).

Contracts: no import cycles at any level; CLI > commands > workflows > synthesis > cloud plug-ins > CDK engine;
the model imports nothing of ours but errors; guardrails never import synthesis; the local cloud's provider
never imports the plug-ins.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=REPO, capture_output=True, text=True)


def test_import_contracts_are_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "No import cycles anywhere" in result.stdout, result.stdout


def test_a_broken_layering_is_reported(tmp_path: Path) -> None:
    """The checker really reads our imports: the CDK engine above the CLI must be reported as broken."""
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "platform_sdk"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "upside down"\ntype = "layers"\nlayers = ["platform_sdk.cdk", "platform_sdk.cli"]\n')
    result = lint_imports(str(config))
    assert result.returncode == 1 and "upside down BROKEN" in result.stdout, result.stdout
    assert "platform_sdk.cli -> platform_sdk.commands" in result.stdout, result.stdout
