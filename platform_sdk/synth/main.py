"""Entry point for stock `cdktf synth` / `cdktn synth` (see cdktf.json): every environment in one app.

`PLATFORM_ENV=prod cdktf synth` limits it to one environment. Stack names carry the environment, so all
environments can share one output folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from platform_sdk.envs import list_environments, load_environment
from platform_sdk.loader import load_services
from platform_sdk.profile import load_profile
from platform_sdk.project import Project
from platform_sdk.synth.app import new_app
from platform_sdk.synth.estate import EstateBuilder


def main() -> None:
    project = Project.find()
    outdir = Path(os.environ.get("CDKTF_OUTDIR", project.root / "cdktf.out")).resolve()
    names = [os.environ["PLATFORM_ENV"]] if os.environ.get("PLATFORM_ENV") else list_environments(project.envs_dir)
    app = new_app(outdir)
    for name in names:
        env = load_environment(project.envs_dir / f"{name}.toml")
        services = load_services(project.services_dir)
        EstateBuilder(app, project, env, services, profile=load_profile(project, env), outdir=outdir).build()
    app.synth()


if __name__ == "__main__":
    main()
