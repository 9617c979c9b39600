"""Where a project's parts live: services, environments, synthesized output, caches and local state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
