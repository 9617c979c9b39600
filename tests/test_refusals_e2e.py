"""A refused option writes nothing: plan/apply/unlock/logs checked their options (`--stack`, `--expect`, a STACK, a
function) only after synthesis had replaced `cdktf.out/<env>`. Through real CDKTF and Terraform on an applied example
estate, every refusal exits 2 with one message naming the option and the value, and the project's files (the
synthesized output, the state, the records, the local cloud) are byte-for-byte as they were, their times too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform_fixtures import Cli, applied_estate_fixture, cli_fixture, tf_binary_fixture

__all__ = ["applied_estate_fixture", "cli_fixture", "tf_binary_fixture"]

TRANSIENT = {"cdktf.out", ".platform"}
SERVER_FILES = ("data", "server.log", "mariadb.pid", "mariadb.sock")


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file and folder under `root` (relative path -> its bytes, None for a folder, and its mtime in ns); a
    local database server's own files, which change by themselves, left out (as `terraform_fixtures.tree`)."""
    found: dict[str, tuple[bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(part in SERVER_FILES and parts[i - 1] in (".postgres", ".mariadb") for i, part in enumerate(parts) if i):
            continue
        info = path.lstat()
        body = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found["/".join(parts)] = (body, info.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def applied(applied_estate: Callable[[], Path]) -> Path:
    """The example estate applied to the local environment (its output, state, records and local cloud); the
    refusals below change nothing of it, so one copy serves them all."""
    return applied_estate()


def _other_environments_report(tmp: Path) -> Path:
    report = tmp / "plan-dev.json"
    report.write_text(json.dumps({"environment": "dev", "operation": "plan", "stacks": []}))
    return report


REFUSALS: list[tuple[str, Callable[[Path], list[str]], list[str]]] = [
    ("plan --stack", lambda tmp: ["plan", "--env", "local", "--stack", "nosuch-stack"],
     ["--stack", "no stack nosuch-stack in environment local", "local-web-gcp", "'nosuch-stack'"]),
    ("plan --stack among known ones",
     lambda tmp: ["plan", "--env", "local", "--stack", "local-web-gcp", "--stack", "local-web"],
     ["--stack", "no stack local-web in environment local"]),
    ("plan --destroy --stack", lambda tmp: ["plan", "--env", "local", "--destroy", "--stack", "local-web-gcp"],
     ["--stack", "plan --destroy plans every stack", "'local-web-gcp'"]),
    ("plan --report a folder", lambda tmp: ["plan", "--env", "local", "--report", str(tmp)],
     ["--report", "is a folder"]),
    ("apply --stack", lambda tmp: ["apply", "--env", "local", "--auto-approve", "--stack", "nosuch-stack"],
     ["--stack", "no stack nosuch-stack in environment local"]),
    ("apply --expect missing", lambda tmp: ["apply", "--env", "local", "--auto-approve", "--expect",
                                            str(tmp / "no-report.json")],
     ["--expect", "no-report.json", "cannot read the reviewed plan report"]),
    ("apply --expect another environment's", lambda tmp: ["apply", "--env", "local", "--auto-approve", "--expect",
                                                          str(_other_environments_report(tmp))],
     ["--expect", "plan-dev.json", "not a plan of local"]),
    ("unlock STACK", lambda tmp: ["unlock", "--env", "local", "web"],
     ["STACK", "no stack web in environment local", "did you mean local-web-gcp?"]),
    ("logs SERVICE.FUNCTION", lambda tmp: ["logs", "web.apy", "--env", "local"],
     ["SERVICE[.FUNCTION]", "no function of the environment is 'web.apy'", "web.api"]),
]


@pytest.mark.e2e
@pytest.mark.parametrize("args,needles", [(args, needles) for _, args, needles in REFUSALS],
                         ids=[name for name, _, _ in REFUSALS])
def test_a_refused_option_writes_nothing(cli: Cli, applied: Path, tmp_path: Path,
                                         args: Callable[[Path], list[str]], needles: list[str]) -> None:
    argv = args(tmp_path)
    before = snapshot(applied)
    assert any(name.startswith("cdktf.out/local/stacks/") for name in before)
    assert any(name.startswith(".platform/state/local/") for name in before)
    result = cli(applied, *argv)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message.count("error:") == 1, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    after = snapshot(applied)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    # two folders held a temporary entry that came and went (the synthesis's temporary folder, the workspace lock's
    # folder): their own mtime moves, nothing in them does
    assert set(changed) <= TRANSIENT and all(after[name][0] is None for name in changed), \
        f"{' '.join(argv)} wrote {changed[:10]}"


@pytest.mark.e2e
def test_a_refused_stack_in_a_fresh_project_leaves_no_output_nor_working_folder(cli: Cli, tmp_path: Path) -> None:
    """Nothing synthesized yet: a refusal leaves no cdktf.out (nor the empty `.platform/` the workspace lock made);
    the function packages synthesis builds stay in their cache, `.platform/packages`, as a `platform synth` leaves
    them."""
    from tests.terraform_fixtures import make_project

    project = make_project(tmp_path / "estate", services=["web"])
    result = cli(project, "plan", "--env", "local", "--stack", "nosuch-stack")
    assert result.exit_code == 2 and "no stack nosuch-stack" in result.stderr, result.stdout + result.stderr
    assert not (project / "cdktf.out").exists()
    result = cli(project, "logs", "web.apy", "--env", "local")  # it synthesizes when nothing was: not for a typo
    assert result.exit_code == 2 and "no function of the environment is 'web.apy'" in result.stderr, result.stderr
    assert "(did you mean 'web.api'?)" in " ".join(result.stderr.split())
    assert not (project / "cdktf.out").exists()
    assert not [p for p in project.glob(".platform/*") if p.name not in ("packages", "vendor")]
