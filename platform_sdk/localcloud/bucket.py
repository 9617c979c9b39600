"""`localcloud_bucket`: an object store bucket as a directory, with its settings in a metadata file.

Layout: `<root>/buckets/<name>/` (objects) and `<root>/buckets/.meta/<name>.json` (settings). Bucket
names cannot start with a dot, so `.meta` never clashes with a bucket.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tf.utils import Diagnostics

from platform_sdk.localcloud import switches
from platform_sdk.localcloud.base import (
    BOOL,
    NUMBER,
    STRING,
    STRING_LIST,
    LocalResource,
    State,
    as_int,
    check_positive,
    computed,
    optional,
    read_json,
    required,
    write_json,
)

# Settings that live in the metadata file; read back on refresh so hand edits show up as drift.
SETTINGS = ("versioning", "public_read", "cors_origins", "expire_days")


def _list_objects(path: Path, limit: int = 5) -> tuple[int, list[str]]:
    """Count files under a bucket dir and return a few names for the error message."""
    count, sample = 0, []
    for entry in sorted(path.rglob("*")):
        if entry.is_dir() and not entry.is_symlink():
            continue
        count += 1
        if len(sample) < limit:
            sample.append(entry.relative_to(path).as_posix())
    return count, sample


class Bucket(LocalResource):
    """A bucket; deleting a non-empty one is refused unless force_destroy is set in state."""

    type_suffix = "bucket"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Bucket name (a directory name under <root>/buckets).", replace=True),
        optional("versioning", BOOL, "Keep old object versions (recorded for the runtime).", default=False),
        optional("public_read", BOOL, "Objects readable without credentials via the gateway.", default=False),
        optional("cors_origins", STRING_LIST, "Origins allowed by CORS."),
        optional("expire_days", NUMBER, "Delete objects older than this many days (lifecycle rule)."),
        optional("force_destroy", BOOL, "Allow destroying the bucket while it holds objects.", default=False),
        computed("path", STRING, "Absolute directory of the bucket.", replace=True),
        computed("url", STRING, "file:// URL of the bucket directory."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        super().validate(diags, config)
        check_positive(diags, config, "expire_days")

    def computed_values(self, state: State) -> State:
        return self.directory_values(state, "buckets")

    def _meta_path(self, state: State) -> Path:
        path = Path(state["path"])
        return path.parent / ".meta" / f"{path.name}.json"

    def _write_meta(self, state: State) -> None:
        meta: dict[str, Any] = {k: state.get(k) for k in SETTINGS}
        meta["expire_days"] = as_int(meta["expire_days"])
        meta.update(name=state["name"], path=state["path"], url=state["url"])
        write_json(self._meta_path(state), meta)

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        state = self.finish(planned)
        path = Path(state["path"])
        if path.is_dir() and any(path.iterdir()):
            diags.add_warning(
                f"Bucket {state['name']} already existed and was adopted",
                f"{path} already held objects; they were kept.",
            )
        path.mkdir(parents=True, exist_ok=True)
        self._write_meta(state)
        return state

    def read(self, diags: Diagnostics, current: State) -> State | None:
        path = Path(current.get("path") or self.computed_values(current)["path"])
        if not path.is_dir():
            return None  # deleted out of band: Terraform plans to create it again
        state = dict(current)
        meta = read_json(self._meta_path({**current, "path": str(path)}))
        if isinstance(meta, dict):
            for key in SETTINGS:
                if key in meta:
                    state[key] = meta[key]
        return state

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        state = self.finish(planned)
        Path(state["path"]).mkdir(parents=True, exist_ok=True)
        self._write_meta(state)
        return state

    def delete(self, diags: Diagnostics, prior: State) -> None:
        path = Path(prior["path"])
        if path.is_dir():
            count, sample = _list_objects(path)
            if count and not prior.get("force_destroy") and not switches.data_loss_allowed():
                shown = ", ".join(sample) + (", ..." if count > len(sample) else "")
                diags.add_error(
                    f"Bucket {prior['name']} is not empty ({count} object{'s' if count != 1 else ''}); "
                    "refusing to destroy it",
                    f"{path} holds: {shown}.\nNothing was deleted. Empty the bucket, or set "
                    "force_destroy = true, apply, and destroy again.",
                )
                return
            shutil.rmtree(path)
        self._meta_path(prior).unlink(missing_ok=True)
