"""A new project (`platform init`): one example service, the local environment and a `.gitignore`.

The example is the smallest estate that shows the model end to end: a function with an HTTP trigger and a bucket
it writes to (a grant), deployable at once on the local cloud (`platform apply --env local`) and callable through
`platform dev`. The environment file names its `name_prefix` explicitly: physical bucket names are global, so a
prefix shared by every new project would collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_sdk.errors import PlatformError

SERVICE = '''"""An example service: an HTTP function that saves what it is sent into a bucket.

Deploy and call it on this machine:
    platform apply --env local --auto-approve
    platform dev --env local                     # then, in another terminal:
    curl -s -X POST http://127.0.0.1:8790/fn/{name_prefix}-local-hello-api -d 'hello, world'
"""

from platform_sdk import Bucket, Function, Service, http

service = Service("hello", owner="my-team", description="Saves notes sent over HTTP")

notes = service.add(Bucket("notes"))
api = service.add(Function("api", handler="api.handle", source="functions/hello", triggers=[http()],
                           environment={{"GREETING": "hello"}}))
api.writes(notes)  # least-privilege access to this one bucket, on whichever cloud it lives
'''

FUNCTION = '''"""The example function: saves the request body as a new object and says where.

The same code runs on every cloud; what differs per stage comes from the environment files (`GREETING` can be
overridden there).
"""

from __future__ import annotations

import os
import uuid

from platform_sdk.runtime import HttpRequest, HttpResponse, bucket


def handle(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(200, {"greeting": os.environ.get("GREETING", "hello"), "usage": "POST a note"})
    key = f"notes/{uuid.uuid4().hex}.txt"
    bucket("notes").put(key, request.body, content_type="text/plain")
    return HttpResponse(201, {"saved": key, "bytes": len(request.body)})
'''

LOCAL_ENV = '''# The local stage: everything runs on this machine (the embedded local cloud), no account needed.
#   platform apply --env local --auto-approve     deploys it
#   platform dev --env local                      serves its functions on http://127.0.0.1:8790
# New stages: `platform env new dev --from local --cloud CLOUD --region REGION` (see docs/stages.md).
name_prefix = "{name_prefix}"  # first part of every physical name: <name_prefix>-<env>-<service>-<resource>
default_cloud = "local"

[clouds.local]
gateway_port = 8790
'''

GITIGNORE = ("cdktf.out/", ".platform/", "__pycache__/", "*.pyc")


@dataclass
class Scaffold:
    """What `init` wrote, relative to the project directory."""

    root: Path
    written: list[Path]
    name_prefix: str


def files(name_prefix: str) -> dict[str, str]:
    """The files of a new project, by path relative to its root (`.gitignore` is merged, see `init`)."""
    return {
        "services/hello.py": SERVICE.format(name_prefix=name_prefix),
        "services/functions/hello/api.py": FUNCTION,
        "envs/local.toml": LOCAL_ENV.format(name_prefix=name_prefix),
    }


def init(root: Path, name_prefix: str) -> Scaffold:
    """Write a new project into `root` (created if missing); `.gitignore` gains the lines it lacks.

    Raises:
        PlatformError: `root` already holds `services/` or `envs/` (a project); nothing is written then.
    """
    for part in ("services", "envs"):
        if (root / part).exists():
            raise PlatformError("this directory already holds a project: `platform init` starts a new one in an "
                                "empty directory", file=root / part)
    written = []
    for rel, text in files(name_prefix).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(Path(rel))
    ignore = root / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.is_file() else []
    missing = [line for line in GITIGNORE if line not in lines]
    if missing:
        ignore.write_text("".join(f"{line}\n" for line in [*lines, *missing]))
        written.append(Path(".gitignore"))
    return Scaffold(root, written, name_prefix)
