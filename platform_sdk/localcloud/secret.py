"""`localcloud_secret`: a secret's container as a private directory; its value is a 0600 file no plan ever sees.

Layout: `<root>/secrets/<name>/` (mode 0700) holding `value` (mode 0600), written only by the secret client
(`platform_sdk.providers.local.runtime.secrets`, used by `platform secret set`). Terraform manages the directory:
the value is not an attribute, so it is never in configuration, state or plans. Destroying a secret that holds
a value is refused unless force_destroy is set or data loss was allowed (`platform apply --allow-data-loss`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tf.utils import Diagnostics

from platform_sdk.localcloud import switches
from platform_sdk.localcloud.base import BOOL, STRING, LocalResource, State, computed, optional, required

VALUE_FILE = "value"
"""The file holding the current value, inside the secret's directory."""
DIRECTORY_MODE = 0o700


class Secret(LocalResource):
    """A secret container; refuses to be destroyed while it holds a value (unless forced)."""

    type_suffix = "secret"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Secret name (a directory name under <root>/secrets).", replace=True),
        optional("force_destroy", BOOL, "Allow destroying the secret while it holds a value.", default=False),
        computed("path", STRING, "Absolute directory of the secret (its value is the file `value` inside).",
                 replace=True),
        computed("url", STRING, "file:// URL of the secret directory (what functions are told)."),
    ]

    def computed_values(self, state: State) -> State:
        return self.directory_values(state, "secrets")

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        state = self.finish(planned)
        path = Path(state["path"])
        if (path / VALUE_FILE).is_file():
            diags.add_warning(f"Secret {state['name']} already existed and was adopted", "Its value was kept.")
        path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
        os.chmod(path, DIRECTORY_MODE)
        return state

    def read(self, diags: Diagnostics, current: State) -> State | None:
        path = Path(current.get("path") or self.computed_values(current)["path"])
        return dict(current) if path.is_dir() else None  # deleted out of band: Terraform plans to create it again

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        return self.finish(planned)

    def delete(self, diags: Diagnostics, prior: State) -> None:
        path = Path(prior["path"])
        if (path / VALUE_FILE).is_file() and not prior.get("force_destroy") and not switches.data_loss_allowed():
            diags.add_error(
                f"Secret {prior['name']} holds a value; refusing to destroy it",
                f"{path} was kept. Destroy it with data loss allowed (platform destroy --allow-data-loss), or "
                "set force_destroy = true, apply, and destroy again.",
            )
            return
        shutil.rmtree(path, ignore_errors=True)
