"""A refused option writes nothing: plan/apply/unlock/logs checked their options (`--stack`, `--expect`, a STACK, a
function) only after synthesis had replaced `cdktf.out/<env>`. Through real CDKTF and Terraform on an applied example
estate, every refusal exits 2 with one message naming the option and the value, and the project's files (the
synthesized output, the state, the records, the local cloud) are byte-for-byte as they were, their times too."""

from __future__ import annotations

import json
import os
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


def _a_file(tmp: Path) -> Path:
    """A file of the user's, not a plan report."""
    notes = tmp / "notes.txt"
    notes.write_text("mine\n")
    return notes


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
    ("plan --report empty", lambda tmp: ["plan", "--env", "local", "--report", ""],
     ["--report", "is empty", "(got '')"]),
    ("plan --report in a missing folder", lambda tmp: ["plan", "--env", "local", "--report", "/proc/nope/x.json"],
     ["--report", "/proc/nope does not exist", "(got '/proc/nope/x.json')"]),
    ("plan --report a device", lambda tmp: ["plan", "--env", "local", "--report", "/dev/full"],
     ["--report", "is not a regular file", "(got '/dev/full')"]),
    ("plan --report through a file", lambda tmp: ["plan", "--env", "local", "--report", str(_a_file(tmp) / "x.json")],
     ["--report", "notes.txt is not a folder", "notes.txt/x.json'"]),
    ("plan --report another file", lambda tmp: ["plan", "--env", "local", "--report", str(_a_file(tmp))],
     ["--report", "exists and is not a plan report", "notes.txt'"]),
    ("plan --json --format markdown", lambda tmp: ["plan", "--env", "local", "--json", "--format", "markdown"],
     ["--format", "--json and --format markdown", "give one"]),
    ("plan --env typo", lambda tmp: ["plan", "--env", "locl"],
     ["--env", "unknown environment (did you mean 'local'?)", "(got 'locl')"]),
    ("apply --stack typo", lambda tmp: ["apply", "--env", "local", "--auto-approve", "--stack", "local-web-gpc"],
     ["--stack", "no stack local-web-gpc in environment local (did you mean 'local-web-gcp'?)"]),
    ("plan --stack SERVICE", lambda tmp: ["plan", "--env", "local", "--stack", "web"],
     ["--stack", "no stack web in environment local (did you mean 'local-web-gcp'?)"]),
    ("unlock STACK", lambda tmp: ["unlock", "--env", "local", "web"],
     ["STACK", "no stack web in environment local", "(did you mean 'local-web-gcp'?)"]),
    ("logs SERVICE.FUNCTION", lambda tmp: ["logs", "web.apy", "--env", "local"],
     ["SERVICE[.FUNCTION]", "no function of the environment is 'web.apy'", "web.api"]),
]


@pytest.mark.e2e
@pytest.mark.parametrize("args,needles", [(args, needles) for _, args, needles in REFUSALS],
                         ids=[name for name, _, _ in REFUSALS])
def test_a_refused_option_writes_nothing(cli: Cli, applied: Path, tmp_path: Path,
                                         args: Callable[[Path], list[str]], needles: list[str]) -> None:
    argv = args(tmp_path)
    _refused_writes_nothing(cli, applied, tmp_path, argv, needles)


def _refused_writes_nothing(cli: Cli, applied: Path, tmp_path: Path, argv: list[str], needles: list[str]) -> None:
    before, theirs = snapshot(applied), snapshot(tmp_path)
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
    assert snapshot(tmp_path) == theirs, "the user's files are as they were"


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["envs/local.toml", "envs/plan.json", "services/web.py", "services/plan.json"])
def test_a_report_is_never_written_among_the_declarations(cli: Cli, applied: Path, tmp_path: Path,
                                                          where: str) -> None:
    """`plan --report envs/local.toml` replaced the environment file it had just read with the JSON report (exit 0;
    every later command failed on it), and so any file of the project (trial s31): the project's declarations
    (`envs/`, `services/`) are refused by name, before anything runs; the files stay byte for byte."""
    folder = where.split("/")[0]
    _refused_writes_nothing(cli, applied, tmp_path, ["plan", "--env", "local", "--report", str(applied / where)],
                            ["--report", f"is in the project's {folder}/ folder", f"{where}'"])


@pytest.mark.e2e
def test_an_earlier_report_or_an_empty_file_is_replaced(cli: Cli, applied: Path, tmp_path: Path) -> None:
    """What `--report` may replace: its own earlier report (of any environment, a plan or a destroy plan), or an
    empty file (`mktemp`); it is replaced whole."""
    earlier = tmp_path / "plan.json"
    earlier.write_text(json.dumps({"environment": "dev", "operation": "destroy", "totals": {}, "stacks": []}))
    empty = tmp_path / "empty.json"
    empty.touch()
    for path in (earlier, empty):
        result = cli(applied, "plan", "--env", "local", "--report", str(path))
        assert result.exit_code == 0, result.stdout + result.stderr
        report = json.loads(path.read_text())
        assert report["environment"] == "local" and report["operation"] == "plan" and report["stacks"], report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.json", "plan.json"], "no temporary file left"


@pytest.mark.e2e
@pytest.mark.skipif(os.geteuid() != 0, reason="sysfs refuses a new file to root only after the checks (others: at "
                                              "the check, as not writable)")
def test_a_report_that_cannot_be_written_after_the_plan_is_named_with_the_plan_shown(cli: Cli, applied: Path) -> None:
    """`--report /dev/full` and the like gave a Python traceback and no plan (exit 1), and a path through a file a
    hint about cdktf.out/ that never named --report (trial s31). What passes the checks and still fails (here sysfs
    refusing a new file): the plan is shown, then one error naming --report, the value and the OS's reason, exit 2."""
    result = cli(applied, "plan", "--env", "local", "--all", "--report", "/sys/plan.json")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Summary:" in result.stdout
    error = " ".join(result.stderr.split())
    assert error.count("error:") == 1 and "Traceback" not in error, error
    assert "error: --report: cannot write the JSON report: Permission denied" in error and \
        "(got '/sys/plan.json')" in error, error
    assert not Path("/sys/plan.json").exists()


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


@pytest.mark.e2e
def test_a_report_in_a_function_source_folder_is_refused(cli: Cli, tmp_path: Path) -> None:
    """Code may live outside services/ (`source` is relative to the declaring file): a report there would be
    deployed with it. Refused once synthesis knows the sources, before anything is written."""
    import shutil

    from tests.terraform_fixtures import make_project

    project = make_project(tmp_path / "estate", services=["web"])
    shutil.move(project / "services" / "functions" / "web", project / "src")
    web = project / "services" / "web.py"
    web.write_text(web.read_text().replace('source="functions/web"', 'source="../src"'))
    result = cli(project, "plan", "--env", "local", "--report", str(project / "src" / "plan.json"))
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "--report: is in the source folder of function web.api" in message, message
    assert not (project / "cdktf.out").exists() and not (project / "src" / "plan.json").exists()
