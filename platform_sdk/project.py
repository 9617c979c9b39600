"""Where a project's parts live: services, environments, synthesized output, caches and local state.

`Project` also owns the two record files other parts share: the deployed record (written after applies, read
by synthesis to keep tombstone stacks) and the move record (written by `platform move`, read by synthesis to
keep a moved resource's other copy while its data moves; a cache of the record in the state backend).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Project:
    """A platform project rooted at `root` (the directory holding `services/` and `envs/`)."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The project named by PLATFORM_PROJECT, else the nearest directory upwards with `envs/`."""
        if os.environ.get("PLATFORM_PROJECT"):
            return cls(Path(os.environ["PLATFORM_PROJECT"]).resolve())
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "envs").is_dir():
                return cls(candidate)
        return cls(here)

    @property
    def services_dir(self) -> Path:
        return self.root / "services"

    @property
    def envs_dir(self) -> Path:
        return self.root / "envs"

    @property
    def outdir(self) -> Path:
        return self.root / "cdktf.out"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".platform"

    def env_outdir(self, env: str) -> Path:
        """Each environment synthesizes into its own folder, so plans of two environments never mix."""
        return self.outdir / env

    def move_record(self, env: str) -> Path:
        """Unfinished and finished moves of an environment (`platform move`), read by synthesis too."""
        return self.cache_dir / "moves" / f"{env}.json"

    def deployed_record(self, env: str) -> Path:
        """Stacks an environment's applies left deployed (so a stack that lost all resources is kept to destroy)."""
        return self.cache_dir / "deployed" / f"{env}.json"

    # -- the deployed record ---------------------------------------------------------------------------------
    def read_deployed(self, env: str) -> dict[str, dict[str, Any]]:
        """Applied stacks of `env` (stack name -> its metadata, owners map included); {} before the first apply."""
        path = self.deployed_record(env)
        return json.loads(path.read_text()) if path.is_file() else {}

    def record_deployed(self, env: str, stacks: dict[str, dict[str, Any]], removed: tuple[str, ...] = ()) -> None:
        """Remember applied stacks (with their owners map); forget stacks destroyed to nothing."""
        record = self.read_deployed(env)
        record.update(stacks)
        for name in removed:
            record.pop(name, None)
        _write_json(self.deployed_record(env), record)

    # -- the move record -------------------------------------------------------------------------------------
    def read_moves(self, env: str) -> dict[str, Any]:
        """The move record of `env`: `{"moves": [...]}`, one entry per move with its phase (see move/orchestrator)."""
        path = self.move_record(env)
        return json.loads(path.read_text()) if path.is_file() else {"moves": []}

    def write_moves(self, env: str, record: dict[str, Any]) -> None:
        """Replace the move record in one step (write a temporary file, then rename it)."""
        _write_json(self.move_record(env), record)

    def retained_copies(self, env: str) -> dict[str, str]:
        """Stateful resources moves keep a copy of besides their placement (address -> cloud), as the last
        command that read the move record (in the state backend, see move/record.py) cached them."""
        return dict(self.read_moves(env).get("retained", {}))


def _write_json(path: Path, data: Any) -> None:
    """Replace `path` with `data` in one step (a temporary file renamed over it); left as it is when it already
    holds exactly that (the move record is refreshed by every command that reads the backend: a rewrite of the
    same content was a write by commands that change nothing, a refused one included)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
