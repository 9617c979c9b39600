"""Moving a workload between clouds, rehearsed on the local environment through real Terraform.

The local environment holds local stand-ins for `aws` and `gcp`, so the whole pipeline runs here: placement
change -> plan as a move -> target apply -> copy -> verify -> re-wire -> source removal. One resource of a service
(`SERVICE.RESOURCE`) moves the same way, each stateful kind alone, its service's other resources untouched; and a
move stopped in any state is taken on by a command its own messages name.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shlex
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from platform_sdk.localcloud import dbserver
from platform_sdk.move.journal import count_verified
from platform_sdk.providers.local.runtime.queues import LocalQueue
from platform_sdk.providers.local.runtime.secrets import LocalSecret
from platform_sdk.runtime.database import Database
from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    Cli,
    applied_estate_fixture,
    cli_fixture,
    make_project,
    remove_database_servers,
    set_placement,
    spawn,
    state_files,
    state_resources,
    tf_binary_fixture,
    wait_for_path,
)

pytestmark = pytest.mark.e2e

ORIGINALS = "acme-local-thumbnails-originals"


def bucket_dir(project: Path, cloud: str, name: str = ORIGINALS) -> Path:
    return project / ".platform" / "localcloud" / "local" / cloud / "buckets" / name


def fill(bucket: Path, count: int = 200) -> dict[str, str]:
    """`count` objects of mixed sizes (0 B, 1 B, 5 MB and random sizes), some nested; returns key -> md5."""
    rng = random.Random(42)
    sizes = [0, 1, 5 * 1024 * 1024] + [rng.choice([rng.randrange(0, 2048), rng.randrange(0, 256 * 1024)])
                                        for _ in range(count - 3)]
    digests = {}
    for index, size in enumerate(sizes):
        key = f"img-{index:03d}.jpg" if index % 7 else f"nested/{index % 3}/img-{index:03d}.png"
        data = rng.randbytes(size)
        path = bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests[key] = hashlib.md5(data).hexdigest()
    return digests


def contents(bucket: Path) -> dict[str, str]:
    return {p.relative_to(bucket).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in bucket.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                  p.relative_to(bucket).parts)}


@pytest.fixture
def applied(applied_estate: Callable[[], Path]) -> Path:
    """The example estate as a fresh `platform apply --env local` leaves it (tests/terraform_fixtures.py)."""
    return applied_estate()


def test_a_placement_change_plans_as_a_move_and_touches_nothing_else(cli: Cli, applied: Path) -> None:
    set_placement(applied, "thumbnails", "gcp")
    code, report = cli.json(applied, "plan", "--env", "local")
    assert code == 0, report
    moved = {(m["resource"], m["from"], m["to"]) for m in report["moves"]}
    for name in ("originals", "thumbs", "resize", "on-demand", "cdn"):
        assert (f"thumbnails.{name}", "local-thumbnails-aws", "local-thumbnails-gcp") in moved
    stacks = {s["name"]: s for s in report["stacks"]}
    assert stacks["local-auth-aws"]["status"] == "unchanged"  # not even planned: nothing they depend on changed
    assert stacks["local-web-gcp"]["status"] == "unchanged"
    assert set(stacks["local-thumbnails-gcp"]["changes"]["create"]) >= {"localcloud_bucket.originals",
                                                                        "localcloud_function.resize"}
    assert {d["address"] for d in report["data_loss"]} == {"localcloud_bucket.originals", "localcloud_bucket.thumbs"}
    before = state_files(applied)
    refused = cli(applied, "apply", "--env", "local", "--auto-approve")
    assert refused.exit_code == 1 and "allow-data-loss" in refused.stderr
    assert state_files(applied) == before, "a refused apply changes nothing"


def test_move_a_service_with_its_data_and_back(cli: Cli, applied: Path) -> None:
    digests = fill(bucket_dir(applied, "aws"))
    code, report = cli.json(applied, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, report
    first = next(c for c in report["copies"] if c["resource"] == "thumbnails.originals" and c["phase"] == "copy")
    assert first["copy"]["copied"] == 200 and first["verify"]["ok"] and first["verify"]["matched"] == 200
    assert report["source_removed"] and report["finished"]
    assert contents(bucket_dir(applied, "gcp")) == digests
    assert not bucket_dir(applied, "aws").exists(), "the source is removed after verification"
    assert '"thumbnails" = "gcp"' in (applied / "envs" / "local.toml").read_text()
    code, plan = cli.json(applied, "plan", "--env", "local")
    assert code == 0 and not plan["changes_present"], plan
    code, back = cli.json(applied, "move", "thumbnails", "--to", "aws", "--env", "local", "--yes")
    assert code == 0, back
    assert contents(bucket_dir(applied, "aws")) == digests
    assert not bucket_dir(applied, "gcp").exists()


def test_a_killed_copy_resumes_without_copying_a_verified_object_twice(cli: Cli, applied: Path, tf_binary: Path,
                                                                       tmp_path: Path) -> None:
    digests = fill(bucket_dir(applied, "aws"))
    hold = tmp_path / "hold"
    hold.touch()
    proc = spawn(applied, tf_binary, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes", "--json",
                 "--workers", "2", env={"PLATFORM_MOVE_PAUSE_AFTER": "60", "PLATFORM_MOVE_PAUSE_FILE": str(hold)})
    wait_for_path(Path(str(hold) + ".entered"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    journals = list((applied / ".platform" / "moves" / "journals").glob("*originals*.sqlite3"))
    assert len(journals) == 1
    verified_before = count_verified(journals[0])
    assert 60 <= verified_before < 200
    assert contents(bucket_dir(applied, "aws")) == digests, "the source is untouched by an interrupted move"
    record = json.loads((applied / ".platform" / "moves" / "local.json").read_text())["moves"][0]
    assert record["phase"] == "copy"

    code, report = cli.json(applied, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, report
    resumed = next(c for c in report["copies"] if c["resource"] == "thumbnails.originals" and c["phase"] == "copy")
    assert resumed["copy"]["skipped_already_verified"] == verified_before
    assert resumed["copy"]["copied"] == 200 - verified_before
    assert contents(bucket_dir(applied, "gcp")) == digests
    assert report["source_removed"]


def test_a_move_into_an_unsupported_placement_changes_nothing(cli: Cli, applied: Path) -> None:
    env_file = applied / "envs" / "local.toml"
    before_env, before_state = env_file.read_text(), state_files(applied)
    result = cli(applied, "move", "thumbnails.originals", "--to", "gcp", "--env", "local", "--yes")
    assert result.exit_code == 2
    assert "object-created trigger" in " ".join(result.stderr.split())
    assert env_file.read_text() == before_env
    assert state_files(applied) == before_state
    assert not (applied / ".platform" / "state" / "local" / "_platform" / "moves.json").exists()
    assert not (applied / ".platform" / "moves" / "local.json").exists()


def test_protected_environments_keep_the_source_until_asked(cli: Cli, applied: Path) -> None:
    env_file = applied / "envs" / "local.toml"
    text = env_file.read_text().replace("deletion_protection = false", "high_availability = true")
    env_file.write_text("protected = true\n" + text)  # protected: production database rules apply too
    assert cli(applied, "apply", "--env", "local", "--auto-approve").exit_code == 0  # else the preflight refuses
    digests = fill(bucket_dir(applied, "aws"), count=20)
    code, report = cli.json(applied, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, report
    assert report["source_kept"] and not report["source_removed"]
    assert contents(bucket_dir(applied, "aws")) == digests and contents(bucket_dir(applied, "gcp")) == digests
    code, plan = cli.json(applied, "plan", "--env", "local")
    assert code == 0 and plan["data_loss"] == [], "a kept source is not planned for destruction"
    code, done = cli.json(applied, "move", "thumbnails", "--to", "gcp", "--env", "local", "--remove-source", "--yes")
    assert code == 0, done
    assert done["source_removed"] and not bucket_dir(applied, "aws").exists()


def test_move_a_database_with_row_counts_verified(cli: Cli, applied: Path) -> None:
    """auth's PostgreSQL database, from the aws stand-in's local server to the gcp stand-in's (pg_dump/pg_restore
    between two real servers, as the clouds' would be); the functions' roles follow them to the target."""
    roots = applied / ".platform" / "localcloud" / "local"
    source = dbserver.Server(roots / "aws", "postgres")
    with source.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE users (email TEXT PRIMARY KEY, salt TEXT, hash TEXT)")
        for i in range(321):
            cursor.execute(f"INSERT INTO users VALUES ('u{i}@example.com', 's', 'h')")
        conn.commit()
    code, report = cli.json(applied, "move", "auth", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, report
    db = next(d for d in report["databases"] if d["phase"] == "copy")
    users = db["tables"]["public.users"]
    assert db["verified"] and users["source_rows"] == users["target_rows"] == 321
    assert users["source_checksum"] == users["target_checksum"] and users["verified"]
    target = dbserver.Server(roots / "gcp", "postgres")
    with target.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM users")
        assert cursor.fetchone()[0] == 321
    assert not source.dir.exists(), "the source database (and its server, which held nothing else) is gone"
    role = json.loads((roots / "gcp" / "functions" / "acme-local-auth-api" / "function.json").read_text())
    url = role["environment"]["PLATFORM_DATABASE_USERS"]
    assert url.startswith(f"postgres://acme_local_auth_api__acme_local_auth_users@127.0.0.1:{target.port}/"), url
    with Database("users", url).connect() as conn:  # the moved function's own role reads the copied rows
        assert conn.query("SELECT count(*) FROM users") == [(321,)]


def test_dry_run_shows_what_would_move(cli: Cli, applied: Path) -> None:
    before = state_files(applied)
    code, out = cli.json(applied, "move", "web", "--to", "aws", "--env", "local", "--dry-run")
    assert code == 0, out
    summary = out["preflight"]["move"]
    assert summary["stateful"] == ["web.site"] and "web.api" in summary["moved"]
    assert out["preflight"]["ok"] and {c["how"] for c in out["preflight"]["checks"]} == {"checked", "planned", "static"}
    assert '"web" = "gcp"' in (applied / "envs" / "local.toml").read_text()
    assert state_files(applied) == before
    # prod would refuse it for one reason only: web.cdn's domain has its records in prod's gcp dns_zone and prod's
    # aws section names none (found since the preflight checks the rehearsed environment's zones too)
    notes = [c for c in out["preflight"]["checks"] if c["step"].startswith("rehearsal of")]
    assert [(c["step"], c["ok"]) for c in notes] == [("rehearsal of prod: web.cdn", True)], notes
    assert notes[0]["detail"].startswith("this move would be refused there: CDN web.cdn serves shop.example.com")


def test_a_local_move_says_before_it_starts_what_the_rehearsed_environment_would_refuse(cli: Cli,
                                                                                      applied: Path) -> None:
    """envs/local.toml rehearses prod; prod has no domain for thumbnails' CDN, and a protected GCP CDN needs one. The
    local move goes ahead (a rehearsal reports, it does not refuse) but its preflight says so first (found by a new
    user's tryout: it used to appear only in the next plan)."""
    code, out = cli.json(applied, "move", "thumbnails", "--to", "gcp", "--env", "local", "--dry-run")
    assert code == 0, out
    (rehearsal,) = [c for c in out["preflight"]["checks"] if c["step"] == "rehearsal of prod"]
    assert rehearsal["ok"] and "this placement would be refused there (1 finding(s))" in rehearsal["detail"]
    assert "cdn thumbnails.cdn cannot be placed on gcp: missing HTTPS in protected environment 'prod'" in \
        rehearsal["detail"], rehearsal



# ------------------------------------------------------------------------------------------ one resource at a time

HELLO = '''
from platform_sdk import Bucket, Database, Function, Queue, Secret, Service, http

service = Service("hello", owner="t")
notes = service.add(Bucket("notes"))
other = service.add(Bucket("other"))
db = service.add(Database("db"))
jobs = service.add(Queue("jobs"))
key = service.add(Secret("key", generate=True))
api = service.add(Function("api", handler="api.handle", source="functions/hello", triggers=[http()]))
api.reads(notes)
'''
STATEFUL_TYPES = ("localcloud_bucket", "localcloud_database", "localcloud_queue", "localcloud_secret")


@pytest.fixture
def hello(cli: Cli, tmp_path: Path) -> Iterator[Path]:
    """One service on the aws stand-in: a function reading bucket `notes`, and a second bucket, a PostgreSQL
    database (deletion protection on, the model's default), a queue and a generated secret nobody else uses."""
    project = make_project(tmp_path / "estate", services=[])
    (project / "services" / "hello.py").write_text(HELLO)
    (project / "services" / "functions" / "hello").mkdir(parents=True)
    (project / "services" / "functions" / "hello" / "api.py").write_text("def handle(request):\n    return None\n")
    env = project / "envs" / "local.toml"
    env.write_text(env.read_text().replace('"web" = "gcp"\n', ""))
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    yield project
    remove_database_servers(project)


def local_root(project: Path, cloud: str) -> Path:
    return project / ".platform" / "localcloud" / "local" / cloud


def stateful_in(project: Path) -> dict[str, set[str]]:
    """Stack -> the stateful Terraform addresses its state holds."""
    return {stack.removesuffix(".tfstate"): {a for a in found if a.startswith(STATEFUL_TYPES)}
            for stack, found in state_resources(project).items()}


def rows_of(project: Path, cloud: str) -> list[tuple[object, ...]]:
    with dbserver.Server(local_root(project, cloud), "postgres").admin("acme-local-hello-db") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT id, v FROM items ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def test_each_stateful_kind_moves_alone_and_back_leaving_its_service_untouched(cli: Cli, hello: Path) -> None:
    """Found by a new user's tryout: the cleanup of `platform move SERVICE.RESOURCE` refused to remove the moved
    resource's own source copy ("data it did not copy") whenever the service kept a stack on the source, and the move
    could then be neither resumed, aborted nor moved back."""
    aws, gcp = local_root(hello, "aws"), local_root(hello, "gcp")
    (aws / "buckets" / "acme-local-hello-notes" / "a.txt").write_text("note")
    (aws / "buckets" / "acme-local-hello-other" / "b.txt").write_text("other")
    with dbserver.Server(aws, "postgres").admin("acme-local-hello-db") as conn:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(1, 8):
            cursor.execute(f"INSERT INTO items VALUES ({i}, 'v{i}')")
        conn.commit()
    queue_url = (aws / "queues" / "acme-local-hello-jobs").as_uri()
    for i in range(3):
        LocalQueue(queue_url).send(f"job {i}".encode())
    secret = LocalSecret((aws / "secrets" / "acme-local-hello-key").as_uri()).read()
    assert secret is not None, "generated at the apply"
    rows = rows_of(hello, "aws")
    before = stateful_in(hello)
    assert before == {"local-hello-aws": {"localcloud_bucket.notes", "localcloud_bucket.other",
                                          "localcloud_database.db", "localcloud_queue.jobs",
                                          "localcloud_secret.key"}}, before

    moved: set[str] = set()
    for name, kind in (("notes", "bucket"), ("db", "database"), ("jobs", "queue"), ("key", "secret")):
        code, report = cli.json(hello, "move", f"hello.{name}", "--to", "gcp", "--env", "local", "--yes")
        assert code == 0, report
        assert report["finished"] and report["source_removed"], report
        moved.add(f"{STATEFUL_TYPES[('bucket', 'database', 'queue', 'secret').index(kind)]}.{name}")
        assert stateful_in(hello) == {"local-hello-aws": before["local-hello-aws"] - moved, "local-hello-gcp": moved}, \
            f"only the source copy of hello.{name} is removed"
    assert list(contents(gcp / "buckets" / "acme-local-hello-notes")) == ["a.txt"]
    assert rows_of(hello, "gcp") == rows
    gcp_queue = LocalQueue((gcp / "queues" / "acme-local-hello-jobs").as_uri())
    assert sorted(m.body for m in gcp_queue.receive(10)) == [b"job 0", b"job 1", b"job 2"]
    moved_secret = LocalSecret((gcp / "secrets" / "acme-local-hello-key").as_uri()).read()
    assert moved_secret is not None and moved_secret.value == secret.value
    assert not (aws / "queues" / "acme-local-hello-jobs").exists() and not (aws / "secrets" / "acme-local-hello-key"
                                                                             ).exists()
    assert (aws / "buckets" / "acme-local-hello-other" / "b.txt").read_text() == "other", "its neighbour stays"

    # back again: the database onto its source kept, then that copy removed; the bucket straight back
    code, back = cli.json(hello, "move", "hello.db", "--to", "aws", "--env", "local", "--keep-source", "--yes")
    assert code == 0 and back["source_kept"], back
    assert rows_of(hello, "aws") == rows_of(hello, "gcp") == rows
    code, removed = cli.json(hello, "move", "hello.db", "--to", "aws", "--env", "local", "--remove-source", "--yes")
    assert code == 0 and removed["source_removed"], removed
    assert "localcloud_database.db" not in stateful_in(hello)["local-hello-gcp"]
    code, notes = cli.json(hello, "move", "hello.notes", "--to", "aws", "--env", "local", "--yes")
    assert code == 0 and notes["source_removed"], notes
    assert list(contents(aws / "buckets" / "acme-local-hello-notes")) == ["a.txt"]
    assert stateful_in(hello) == {"local-hello-aws": {"localcloud_bucket.notes", "localcloud_bucket.other",
                                                      "localcloud_database.db"},
                                  "local-hello-gcp": {"localcloud_queue.jobs", "localcloud_secret.key"}}
    code, plan = cli.json(hello, "plan", "--env", "local")
    assert code == 0 and not plan["changes_present"] and plan["unfinished_move"] is None, plan


def hinted(text: str) -> list[list[str]]:
    """The `platform move ...` commands a message names, in order (arguments after `platform`)."""
    found = []
    for command in re.findall(r"`platform (move [^`]+)`", " ".join(text.split())):
        if command not in found:
            found.append(command)
    return [shlex.split(c) for c in found]


def follow(cli: Cli, project: Path, message: str) -> list[str]:
    """Run the commands `message` names, in order, until one succeeds; what each said. Fails if none does."""
    said = []
    for args in hinted(message):
        result = cli(project, *args, "--yes")
        said.append(f"{' '.join(args)} -> {result.exit_code}: {result.stderr.strip()[-300:]}")
        if result.exit_code == 0:
            return said
    raise AssertionError(f"no command named by the message succeeded:\n{message}\n" + "\n".join(said))


def unfinished(cli: Cli, project: Path) -> object:
    code, plan = cli.json(project, "plan", "--env", "local")
    assert code == 0, plan
    return plan["unfinished_move"]


def test_a_one_resource_move_stopped_anywhere_is_taken_on_by_a_command_it_names(cli: Cli, hello: Path,
                                                                                 tf_binary: Path) -> None:
    """Whatever state the move is in, the commands its refusals name include one that succeeds: killed at every
    phase boundary, killed while being aborted, and with a cleanup that must refuse (a bucket with data, removed
    from the code meanwhile, would go with the source stack's removal step)."""
    notes = {"aws": local_root(hello, "aws") / "buckets" / "acme-local-hello-notes",
             "gcp": local_root(hello, "gcp") / "buckets" / "acme-local-hello-notes"}
    (notes["aws"] / "a.txt").write_text("note")
    other = local_root(hello, "aws") / "buckets" / "acme-local-hello-other" / "b.txt"
    other.write_text("other")

    def home() -> str:  # where the bucket lives: the environment file says so once no move is unfinished
        return "gcp" if '"hello.notes" = "gcp"' in (hello / "envs" / "local.toml").read_text() else "aws"

    def killed(*args: str, after: str) -> None:
        proc = spawn(hello, tf_binary, "move", *args, "--env", "local", "--yes",
                     env={"PLATFORM_MOVE_KILL_AFTER": after})
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL, f"not killed after {after}"

    for phase in ("copy", "dns", "rewire", "verify", "cleanup"):
        source = home()
        target = "gcp" if source == "aws" else "aws"
        killed("hello.notes", "--to", target, after=phase)
        if phase == "cleanup":  # taken on where this checkout's record of its applies is gone (another machine):
            (hello / ".platform" / "deployed" / "local.json").unlink()  # the move record names the copy to remove
        # `--resume --dry-run` says what a resume would do and changes nothing (it was refused as a conflict)
        dry = cli(hello, "move", "--resume", "--dry-run", "--env", "local")
        assert dry.exit_code == 0 and "platform move --resume --env local" in " ".join(dry.stdout.split()), dry.output
        # the person running it wants the bucket back where it was: refused (the move is unfinished), saying how on
        refused = cli(hello, "move", "hello.notes", "--to", source, "--env", "local", "--yes")
        assert refused.exit_code == 2 and "is unfinished" in refused.stderr, refused.stderr
        said = follow(cli, hello, refused.stderr)
        assert len(said) == 1, f"killed after {phase}: the first command named did not finish it: {said}"
        assert unfinished(cli, hello) is None, f"killed after {phase}: still unfinished"
        assert list(contents(notes[home()])) == ["a.txt"], phase
        assert not notes["gcp" if home() == "aws" else "aws"].exists(), f"killed after {phase}: a copy is left"

    # killed while being aborted: a resume is refused and names the abort
    killed("hello.notes", "--to", "gcp" if home() == "aws" else "aws", after="copy")
    killed("--abort", after="aborting")
    refused = cli(hello, "move", "--resume", "--env", "local", "--yes")
    assert refused.exit_code == 2 and "being undone" in refused.stderr, refused.stderr
    follow(cli, hello, refused.stderr)
    assert unfinished(cli, hello) is None and list(contents(notes[home()])) == ["a.txt"]

    # a cleanup that must refuse: `other` (with data) left the code while the move was at its cleanup
    source = home()
    killed("hello.notes", "--to", "gcp" if source == "aws" else "aws", after="cleanup")
    service = hello / "services" / "hello.py"
    code = service.read_text()
    service.write_text(code.replace('other = service.add(Bucket("other"))\n', ""))
    refused = cli(hello, "move", "--resume", "--env", "local", "--yes")
    text = " ".join(refused.stderr.split())
    assert refused.exit_code == 2 and "localcloud_bucket.other" in text and "--keep-source" in text, text
    said = follow(cli, hello, refused.stderr)
    assert "--keep-source" in said[-1], said
    assert other.read_text() == "other", "the bucket that left the code kept its data"
    assert (notes[source] / "a.txt").exists(), "the source copy is kept"
    service.write_text(code)
    assert unfinished(cli, hello) is None
