"""What leaves the machine (tryout seedC fault 5): function packages and static content never carry secrets
(`.env`, private keys), VCS folders or virtualenvs, a `.platformignore` adds the user's own exclusions, leaving a
secret out is said once, and a symlink out of a source or content folder is refused (exit 2, nothing written or
uploaded) while one inside it is followed. Through build_package for every cloud, the CLI's synthesis of the
example estate on AWS (dev), GCP (prod) and the local cloud, and a real local apply with its content sync.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
import zipfile
from pathlib import Path

import pytest

from platform_sdk.errors import ModelError, PlatformWarning
from platform_sdk.model import Function, Service, http
from platform_sdk.synth.assets import build_package
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    cloud_root,
    make_project,
    tf_binary_fixture,
)

SECRETS = {".env": "SECRET_KEY=abc\n", ".env.production": "DB=x\n", "keys/id_rsa": "-----BEGIN-----\n",
           "tls/server.pem": "-----BEGIN-----\n", ".aws/credentials": "[default]\n"}
CLUTTER = {".git/config": "[core]\n", ".hg/hgrc": "", "venv/lib/x.py": "", ".venv/pyvenv.cfg": "",
           "__pycache__/api.cpython-311.pyc": "", "notes.txt~": "", ".DS_Store": "", ".idea/workspace.xml": ""}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _names(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return set(archive.namelist())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    _write(root, {"api.py": "def handle(request):\n    return None\n", "lib/util.py": "X = 1\n",
                  ".well-known/security.txt": "Contact: a@b.c\n", ".env.example": "SECRET_KEY=\n",
                  "fixtures/big.json": "{}", **SECRETS, **CLUTTER})
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to("/usr/bin/python3")  # out of the folder, but never shipped
    return root


def _function(source: Path) -> Function:
    return Service("shop").add(Function("api", handler="api.handle", source=source, triggers=[http()]))


@pytest.mark.parametrize("target", ["aws", "gcp", "local"])
def test_packages_leave_out_secrets_and_clutter_say_so_once_and_stay_deterministic(
        source: Path, tmp_path: Path, target: str) -> None:
    fn = _function(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PlatformWarning)
        package = build_package(fn, target, tmp_path / "one")
    names = _names(package.path)
    assert {"api.py", "lib/util.py", ".well-known/security.txt", "fixtures/big.json"} <= names
    kept_out = {".env", ".env.example", ".env.production", "keys", "tls", ".aws", ".git", ".hg", "venv", ".venv",
                "__pycache__", ".DS_Store", ".idea"}
    leaked = {n for n in names if n.split("/")[0] in kept_out or n.endswith("~")}
    assert leaked == set()
    said = [str(w.message) for w in caught if issubclass(w.category, PlatformWarning)]
    assert len(said) == 1, said
    assert said[0].startswith("left out of the package of shop.api: .aws/, .env, .env.example, .env.production, "
                              "keys/id_rsa, tls/server.pem ")
    again = build_package(fn, target, tmp_path / "two")
    assert again.sha256 == package.sha256 == hashlib.sha256(package.path.read_bytes()).hexdigest()


@pytest.mark.filterwarnings("ignore::platform_sdk.errors.PlatformWarning")
def test_platformignore_adds_exclusions_and_can_ship_a_default_one_back(source: Path, tmp_path: Path) -> None:
    (source / ".platformignore").write_text("# test data\nfixtures/\n*.txt\n!.env.production\n")
    names = _names(build_package(_function(source), "aws", tmp_path).path)
    assert "fixtures/big.json" not in names and ".well-known/security.txt" not in names
    assert ".platformignore" not in names
    assert ".env.production" in names and ".env" not in names  # the user's explicit choice; the rest stays out


@pytest.mark.filterwarnings("ignore::platform_sdk.errors.PlatformWarning")
def test_symlinks_inside_the_folder_ship_and_one_leaving_it_is_refused_before_the_zip_is_written(
        source: Path, tmp_path: Path) -> None:
    (source / "shared").symlink_to("lib")
    (source / "alias.py").symlink_to("api.py")
    (source / "lib" / "up").symlink_to("..")  # a link to a folder it is in: not walked again (no endless loop)
    names = _names(build_package(_function(source), "aws", tmp_path / "ok").path)
    assert {"shared/util.py", "alias.py"} <= names
    assert not [n for n in names if "/up/" in n]

    (tmp_path / "outside.txt").write_text("host secret\n")
    (source / "lib" / "host.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ModelError) as refused:
        build_package(_function(source), "aws", tmp_path / "refused")
    message = str(refused.value)
    assert f"symlink {source / 'lib' / 'host.txt'} points outside {source}" in message
    assert f"(to {tmp_path / 'outside.txt'})" in message
    assert not (tmp_path / "refused").exists()


# ------------------------------------------------------------------------ through the CLI and the real parts

def _tree(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _packages(project: Path, env: str) -> list[Path]:
    """The packages of web.api synthesized for `env` (its own folder: `dev*` also matched other folders)."""
    return sorted((project / ".platform" / "packages" / env).glob("web-api-*.zip"))


@pytest.mark.e2e
def test_synthesis_for_aws_gcp_and_local_ships_no_dotenv_and_says_so(tmp_path: Path, cli: Cli) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    _write(project / "services" / "functions" / "web", {".env": "SECRET_KEY=abc\n"})
    for env, target in (("dev", "aws"), ("prod", "gcp"), ("local", "local")):
        result = cli(project, "synth", "--env", env)
        assert result.exit_code == 0, result.output
        package = project / ".platform" / "packages" / env / f"web-api-{target}.zip"
        assert package.is_file(), sorted(p.relative_to(project).as_posix()
                                         for p in (project / ".platform" / "packages").rglob("*"))
        assert "api.py" in _names(package)
        assert not [p for p in _packages(project, env) if ".env" in _names(p)]  # nor any other build of it
        said = re.sub(r"\s+", " ", result.stderr)
        assert said.count("left out of the package of web.api: .env (files that hold secrets") == 1, said


@pytest.mark.e2e
def test_a_symlink_out_of_the_content_folder_is_refused_and_nothing_is_written(tmp_path: Path, cli: Cli) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    link = project / "services" / "site" / "host.txt"
    link.symlink_to("/etc/hostname")
    before = _tree(project / ".platform")  # the test session seeds packages here (tests/shared_caches.py)
    for command in (("synth", "--env", "dev"), ("plan", "--env", "local"), ("apply", "--env", "local",
                                                                            "--auto-approve")):
        result = cli(project, *command)
        said = re.sub(r"\s+", " ", result.output)
        assert result.exit_code == 2, said
        assert "web.py:" in said and f"content: symlink {link} points outside {link.parent}" in said
        assert f"(to {Path('/etc/hostname').resolve()})" in said and "nothing was written or uploaded" in said
    assert not (project / "cdktf.out").exists()
    assert _tree(project / ".platform") == before
    assert not cloud_root(project).exists()

    link.unlink()  # the same for a function's source folder
    code_link = project / "services" / "functions" / "web" / "config.py"
    code_link.symlink_to(Path.home())
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    said = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2, said
    assert f"source: symlink {code_link} points outside {code_link.parent}" in said
    assert not (project / "cdktf.out").exists() and not cloud_root(project).exists()


@pytest.mark.e2e
def test_local_apply_uploads_no_dotenv_ships_none_and_follows_links_inside_the_site(tmp_path: Path, cli: Cli) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    site = project / "services" / "site"
    _write(site, {".env": "SECRET_KEY=abc\n", ".well-known/security.txt": "Contact: a@b.c\n",
                  "assets/logo.svg": "<svg/>", ".platformignore": "drafts/\n", "drafts/next.html": "<p>soon</p>"})
    (site / "home.html").symlink_to("index.html")
    _write(project / "services" / "functions" / "web", {".env": "SECRET_KEY=abc\n"})

    code, plan = cli.json(project, "plan", "--env", "local")
    assert code == 0, plan
    (content,) = plan["content"]
    assert content["left_out"] == [".env"] and ".env" not in content["plan"]["upload"]
    assert sorted(content["plan"]["upload"]) == [".well-known/security.txt", "assets/logo.svg", "home.html",
                                                 "index.html"]

    result = cli(project, "apply", "--env", "local", "--auto-approve")
    said = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 0, said
    assert said.count("left out of the upload to web.site: .env (files that hold secrets") == 1, said
    assert said.count("left out of the package of web.api: .env") == 1, said
    bucket = cloud_root(project) / "gcp" / "buckets" / "acme-local-web-site"
    uploaded = {p.relative_to(bucket).as_posix() for p in bucket.rglob("*") if p.is_file()}
    assert {"index.html", "home.html", ".well-known/security.txt", "assets/logo.svg"} <= uploaded
    assert not uploaded & {".env", ".platformignore", "drafts/next.html"}
    assert (bucket / "home.html").read_bytes() == (site / "index.html").read_bytes()

    deployed = [p for p in cloud_root(project).rglob("*") if p.name == "api.py" and "functions" in p.parts]
    assert deployed, "the local cloud holds the function's code"
    for code in {p.parent for p in deployed}:
        assert not (code / ".env").exists()
    zips = [p for p in cloud_root(project).rglob("*.zip")] + _packages(project, "local")
    assert zips and all(".env" not in _names(z) for z in zips)
    assert os.path.islink(site / "home.html")
