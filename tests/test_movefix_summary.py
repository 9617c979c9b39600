"""The move summary's columns each mean one thing, summed over the passes (the copy before cut-over and the final
sync) only where that is their meaning: `copied` and `deleted` add up, `same` and `size` are the latest pass's."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from platform_sdk.commands.move import _final_table


def bucket_pass(phase: str, copied: int, identical: int, verified: int, bytes_copied: int, bytes_skipped: int,
                deleted: int = 0) -> dict[str, Any]:
    objects = copied + identical + verified
    return {"resource": "thumbnails.originals", "kind": "bucket", "phase": phase,
            "copy": {"copied": copied, "already_identical": identical, "skipped_already_verified": verified,
                     "bytes_copied": bytes_copied, "bytes_skipped": bytes_skipped, "kept": []},
            "deleted": [f"gone-{i}" for i in range(deleted)],
            "verify": {"matched": objects, "source_objects": objects, "target_objects": objects,
                       "new_on_target": [], "rewritten_on_target": [], "deleted_on_target": []}}


def rows(passes: list[dict[str, Any]]) -> dict[str, str]:
    console = Console(width=200, record=True)
    console.print(_final_table({"copies": passes, "databases": [], "secrets": [], "data": []}))
    header, line = [ln.split() for ln in console.export_text().splitlines()[:2]]
    assert header == ["resource", "kind", "copied", "same", "deleted", "verified", "→", "←", "size"]
    return dict(zip(["resource", "kind", "copied", "same", "deleted", "verified", "back", "size"], line[:8],
                    strict=True))


def test_a_final_sync_that_found_everything_identical_does_not_double_the_size() -> None:
    row = rows([bucket_pass("copy", 200, 0, 0, 604_022, 0), bucket_pass("verify", 0, 200, 0, 0, 604_022)])
    assert row["size"] == "0.6"  # 604,022 bytes, once (it said 1.2 MB: the copy's bytes plus the sync's skipped)
    assert (row["copied"], row["same"], row["deleted"]) == ("200", "200", "0")


def test_what_changed_between_passes_is_counted_once_in_the_size_and_summed_in_copied() -> None:
    row = rows([bucket_pass("copy", 10, 0, 0, 5_000_000, 0),
                bucket_pass("verify", 2, 7, 0, 1_000_000, 3_500_000, deleted=1)])
    assert row["size"] == "4.5"  # what the final sync found: 2 changed (1 MB) + 7 as they were (3.5 MB)
    assert (row["copied"], row["same"], row["deleted"]) == ("12", "7", "1")


def test_a_secret_without_a_value_is_not_shown_as_a_verified_value() -> None:
    """A secret with no value in the source printed "secret  value  value" in the columns of a copied and verified
    one; it now says there was nothing to copy."""
    console = Console(width=200, record=True)
    secrets = [{"resource": "auth.smtp-password", "kind": "secret", "phase": "copy", "source_has_value": False,
                "copied": False, "verified": True},
               {"resource": "auth.jwt-key", "kind": "secret", "phase": "copy", "source_has_value": True,
                "copied": True, "verified": True}]
    console.print(_final_table({"copies": [], "databases": [], "secrets": secrets, "data": []}))
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in console.export_text().splitlines()[1:]}
    assert rows["auth.smtp-password"] == "secret no value nothing to copy", rows
    assert rows["auth.jwt-key"] == "secret value value", rows
