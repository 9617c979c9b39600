"""Secret -> google_secret_manager_secret: the container only. Its value never passes through Terraform.

No `google_secret_manager_secret_version` is emitted: versions are added with AddSecretVersion by the CLI
(`platform secret set`, or generated after apply) and read with AccessSecretVersion by the function, whose
service account holds `roles/secretmanager.secretAccessor` on exactly this secret (iam.py), so the value is in
no configuration, state or plan.

Replication and encryption follow the profile (kms.py): automatic without a key; one replica in the stack's region
with the profile's key otherwise. https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets

The URL functions and the CLI use: `secretmanager://<project>/<secret id>` (the project is empty when the
environment file names none: the client then uses its credentials' project).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from platform_sdk.model import Secret
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import kms, naming, provider
from platform_sdk.providers.gcp.config import gcp_config

if TYPE_CHECKING:
    from platform_sdk.envs import Environment

SCHEME = "secretmanager"
SECRET_API = "secretmanager.googleapis.com"
SECRET_ID_MAX = 255  # secret ids: 1-255 of letters, digits, '-' and '_'
PASSWORD_SUFFIX = "-password"  # database.py names a database's password secret `<instance>-password`


def secret_id(physical: str) -> str:
    """The secret id for a physical name: characters Secret Manager refuses become '-', shortened with a hash."""
    return naming.shorten(re.sub(r"[^A-Za-z0-9_-]", "-", physical), SECRET_ID_MAX)


def secret_problems(physical: str, database_physical: dict[str, str]) -> list[str]:
    """What Secret Manager cannot take: an id equal to the password secret's of a database of the same service
    (`database_physical`: database address -> its physical name)."""
    sid = secret_id(physical)
    for address, db_physical in database_physical.items():
        if sid == naming.shorten(f"{naming.rfc1035(db_physical)}{PASSWORD_SUFFIX}", SECRET_ID_MAX):
            return [f"a secret id distinct from the password secret of database {address} ({sid!r})"]
    return []


def secret_url(env: Environment, physical: str, project: str | None = None) -> str:
    """`secretmanager://<project>/<secret id>`; `project` defaults to the environment file's."""
    if project is None:
        gcp = gcp_config(env)
        project = (gcp.project if gcp is not None else None) or ""
    return f"{SCHEME}://{project}/{secret_id(physical)}"


def compile_secret(ctx: StackContext, secret: Secret) -> tuple[Any, dict[str, str]]:
    """The container and its handle attributes (`id` is what IAM bindings name)."""
    sid = secret_id(ctx.physical_name(secret))
    res = ctx.resource("google_secret_manager_secret", secret.name, {
        "secret_id": sid,
        "replication": kms.secret_replication(ctx),
        "labels": ctx.labels(secret),
    }).after(*provider.apis(ctx, SECRET_API), *kms.secrets_key_ready(ctx))
    url = secret_url(ctx.env, ctx.physical_name(secret), project=provider.project_id(ctx))
    return res, {"name": sid, "id": res.ref("id"), "url": url}

