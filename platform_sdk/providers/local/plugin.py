"""The local cloud plug-in: every neutral kind becomes a `localcloud_*` resource of our own Terraform provider
(platform_sdk.localcloud), state in local files. It needs no section, no account and no cloud SDK, and it hosts
stand-ins: `[clouds.aws] stand_in = "local"` compiles AWS placements here, so moves can be rehearsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk.localcloud import mirror
from platform_sdk.providers.base import (
    CloudPlugin,
    FunctionLimits,
    FunctionRef,
    FunctionStatus,
    LogEntry,
    MirroredProvider,
    Packaging,
)
from platform_sdk.providers.local.config import LocalConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from platform_sdk.envs import Environment
    from platform_sdk.providers.base import Compiler


class LocalPlugin(CloudPlugin):
    """The embedded local cloud."""

    name = "local"
    config = LocalConfig
    section_required = False
    hosts_stand_ins = True
    kinds = frozenset({"bucket", "function", "cdn", "database", "secret", "queue"})
    # Functions run in the project's interpreter: no cloud limit, only sanity. The ranges are the widest any
    # built-in cloud accepts, so a stand-in never refuses what its real cloud takes (that cloud's own limits
    # are checked as well when it is rehearsed here).
    function_limits = FunctionLimits(runtimes=("python3.10", "python3.11", "python3.12", "python3.13"),
                                     memory_mb=(128, 32768), timeout_s=(1, 3600))
    stateful_types = frozenset({"localcloud_bucket", "localcloud_database", "localcloud_secret", "localcloud_queue"})
    # Local functions reach local buckets, secrets, queues and functions under any cloud label (grants are enforced by
    # the runtime and, for calls, by the gateway).
    bucket_access_from = frozenset({"local"})
    secret_access_from = frozenset({"local"})
    queue_access_from = frozenset({"local"})
    function_access_from = frozenset({"local"})
    primary_types = {"bucket": "localcloud_bucket", "function": "localcloud_function", "cdn": "localcloud_cdn_route",
                     "database": "localcloud_database", "secret": "localcloud_secret", "queue": "localcloud_queue"}
    # One object per name in a cloud label's root: a directory, a registry entry, a route file, a database or a role
    # on the root's own database servers (platform_sdk.localcloud).
    unique_names = {"localcloud_bucket": "name", "localcloud_function": "name", "localcloud_cdn_route": "name",
                    "localcloud_database": "name", "localcloud_secret": "name", "localcloud_queue": "name",
                    "localcloud_database_role": "name"}
    # Workers use the project's interpreter, which has the SDK installed: packages carry no copy of the runtime,
    # so upgrading the SDK does not redeploy every local function.
    packaging = Packaging(ships_runtime=False)
    function_type = ("localcloud_function", "name")
    unchecked_prefixes = ("localcloud_",)
    terraform_providers = (MirroredProvider(mirror.PROVIDER_SOURCE, mirror.PROVIDER_VERSION, mirror.PROVIDER_MODULE,
                                            attachable=True),)

    def physical_names(self, env: Environment, terraform_type: str,
                       body: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Also a database's group role (`<database>__data`, runtime/dbroles.py), a role on the same server as the
        functions' roles: two databases whose names differ only where a role name cannot (`a--b`, `a-b`) would share
        it."""
        found = super().physical_names(env, terraform_type, body)
        if terraform_type == "localcloud_database" and found:
            from platform_sdk.runtime.dbroles import group_name

            found.append(("localcloud_database_role", group_name(found[0][1])))
        return found

    def compiler(self, env: Environment) -> Compiler:
        from platform_sdk.providers.local.compiler import LocalCompiler

        return LocalCompiler(env)

    def import_id(self, kind: str, body: Mapping[str, Any], env: Environment) -> str | None:
        """Every local kind is imported by its name (`LocalResource.import_state`)."""
        name = body.get("name")
        return name if kind in ("bucket", "database", "function") and isinstance(name, str) else None

    def secret_url(self, project_root: Path, env: Environment, cloud: str, physical_name: str) -> str:
        """`file://<local root of the cloud label>/secrets/<name>`: what `localcloud_secret` computes as its url."""
        from platform_sdk.localcloud.roots import local_root

        return (local_root(project_root, env, cloud) / "secrets" / physical_name).as_uri()

    def status_checks(self, project_root: Path, env: Environment, refs: list[FunctionRef],
                      client: Any = None) -> list[Callable[[], FunctionStatus]]:
        from platform_sdk.providers.local import status

        return status.checks(project_root, env, refs)

    def fetch_logs(self, project_root: Path, env: Environment, refs: list[FunctionRef], since: datetime,
                   client: Any = None) -> list[LogEntry]:
        """The function logs `platform dev` keeps in each local root (logs.py)."""
        from platform_sdk.providers.local import logs

        return logs.fetch(project_root, env, refs, since)


PLUGIN = LocalPlugin()
