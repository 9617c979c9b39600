"""The move record: every move of an environment, kept next to its Terraform state so every machine sees it.

The record is the document `moves` of the environment's state backend (`platform_sdk.state_documents`: a file
next to local state, an object in the S3 or GCS state bucket), changed only under its lock. A copy is cached in
`.platform/moves/<env>.json`, which synthesis reads (`Project.retained_copies`); commands that reach the backend
(`plan`, `apply`, `destroy`, `move`, `unlock`) refresh it first.

One entry per move (`MOVE_KEYS`); what the rest of the platform derives from an entry:

- `retained(move)`: the copies synthesis must keep besides the placement (address -> cloud): the twin on the
  target while data is copied (and, while the target's DNS records are made, the twin of a CDN whose domain's zone is
  external there: phase `dns`), the source after cut-over until it is removed (or for good with `--keep-source`),
  the target twins an abort kept (`--keep-target`);
- `pinned(move)`: while a move is unfinished, the placement of what it moves is the move's, not the environment
  file's (a colleague's checkout without the edited line plans no change to it; nor does one with the line
  while the data is still being copied);
- `unfinished(moves)`: a move whose data or wiring is in between; `plan`/`apply` say so first and refuse to
  destroy its data, other moves wait for it. A move that kept its source counts as finished.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from platform_sdk.envs import Environment
from platform_sdk.errors import PlatformError
from platform_sdk.project import Project
from platform_sdk.state_documents import Document, Holder, document, locked, read_json, write_json

DOCUMENT = "moves"
FORMAT = 1

TARGET, COPY, DNS, REWIRE, VERIFY, CLEANUP, DONE = "target", "copy", "dns", "rewire", "verify", "cleanup", "done"
ABORTING, ABORTED, SUPERSEDED = "aborting", "aborted", "superseded"
PHASES = (TARGET, COPY, DNS, REWIRE, VERIFY, CLEANUP, DONE)
"""A move's phases in order (see move/orchestrator.py); an abort goes ABORTING -> ABORTED instead."""
BEFORE_CUTOVER = (TARGET, COPY, DNS)
FINISHED = (DONE, ABORTED, SUPERSEDED)

MOVE_KEYS = (
    "id", "env", "selector", "target", "sources", "moved", "stateful", "kinds", "source_stacks", "target_stacks",
    "old_value", "new_value", "phase", "source_kept", "target_kept", "urls", "reuses", "started", "started_by",
    "updated", "cutover_at", "running", "report", "shared", "protected", "rewire_started", "removing", "domains",
    "dns_asked", "addresses",
)
"""`old_value`/`new_value`: the placement line of `selector` before and after (None: no line, the default);
`domains`: moved CDN address -> its domain, when the target's DNS zone is external (the twin built in phase `dns`);
`dns_asked`: what the move's last pause in phase `dns` asked for ("validation": the target's validation
records, "serving": the switch of the domain's own record); `addresses`: stack -> {Terraform address: stateful
address} of every copy of the moved data the move's steps applied (so the step removing one, on any machine,
recognises its removal as the expected one)."""


def unfinished(moves: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The environment's unfinished move (there is at most one), or None."""
    return next((m for m in moves if m.get("phase") not in FINISHED), None)


def retained(move: dict[str, Any]) -> dict[str, str]:
    """Copies synthesis keeps for this move right now: stateful address -> cloud (see the module docstring)."""
    phase = move.get("phase")
    stateful = list(move.get("stateful", []))
    if phase == DNS:
        return {address: move["target"] for address in [*stateful, *move.get("domains", {})]}
    if phase in (TARGET, COPY, ABORTING) or (phase == ABORTED and move.get("target_kept")):
        return {address: move["target"] for address in stateful}
    if phase in (REWIRE, VERIFY, CLEANUP) or (phase == DONE and move.get("source_kept")):
        return {address: move["sources"][address] for address in stateful}
    return {}


def copy_roles(moves: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(stateful address, cloud) -> what that copy is, for every copy a move keeps besides the live one (the copies
    of `retained`): "target twin (copy in progress)" before an unfinished move's cut-over ("target twin (move paused
    for ...)" while its `dns` step waits for records, see `dns_pause`), "source copy (unwired,
    removed at the move's cleanup)" after it, "kept source copy (unwired)" / "kept target twin (unwired)" when a
    finished or aborted move kept it. Listings mark these so two copies of one bucket are never shown alike."""
    roles: dict[tuple[str, str], str] = {}
    for move in moves:
        phase, paused = move.get("phase"), dns_pause(move)
        if paused is not None:
            domains = ", ".join(sorted(set((move.get("domains") or {}).values()))) or "the domain"
            why = (f"the validation records of {domains} to create" if paused == "validation" else
                   f"the switch of the record of {domains} to it")
            role = f"target twin (move paused for {why})"
        elif phase in (TARGET, COPY, DNS, ABORTING):
            role = "target twin (copy in progress)"
        elif phase == ABORTED:
            role = "kept target twin (unwired)"
        elif phase in (REWIRE, VERIFY, CLEANUP):
            role = "source copy (unwired, removed at the move's cleanup)"
        else:
            role = "kept source copy (unwired)"
        for address, cloud in retained(move).items():
            roles[(address, cloud)] = role
    return roles


def dns_pause(move: dict[str, Any]) -> str | None:
    """What a move paused at its `dns` step waits for: "validation" (the target's validation records) or "serving"
    (the switch of the domain's own record); None when it is not paused there."""
    asked = move.get("dns_asked") if move.get("phase") == DNS else None
    return str(asked) if asked else None


def pinned(move: dict[str, Any]) -> tuple[str, str | None] | None:
    """(placement key, its value) an unfinished move imposes; None when finished."""
    phase = move.get("phase")
    if phase in (TARGET, COPY, DNS, ABORTING):
        return move["selector"], move.get("old_value")
    if phase in (REWIRE, VERIFY, CLEANUP):
        return move["selector"], move.get("new_value")
    return None


def with_placement(env: Environment, key: str, value: str | None) -> Environment:
    """`env` with one placement line set (or removed when `value` is None)."""
    placement = dict(env.placement)
    if value is None:
        placement.pop(key, None)
    else:
        placement[key] = value
    return env.model_copy(update={"placement": placement})


def effective_environment(env: Environment, moves: list[dict[str, Any]]) -> Environment:
    """The environment as an unfinished move sees it (its placement line pinned); `env` itself otherwise."""
    move = unfinished(moves)
    pin = pinned(move) if move else None
    if pin is None or env.placement.get(pin[0]) == pin[1]:
        return env
    return with_placement(env, *pin)


def all_retained(moves: list[dict[str, Any]], skip: str | None = None) -> dict[str, str]:
    """Every copy the record keeps (address -> cloud), without the move `skip`."""
    out: dict[str, str] = {}
    for move in moves:
        if move.get("id") != skip:
            out.update(retained(move))
    return out


def commands(move: dict[str, Any]) -> tuple[str, str]:
    """The exact commands that resume and abort `move`."""
    env = move["env"]
    return (f"platform move --resume --env {env}", f"platform move --abort --env {env}")


def past_cutover(move: dict[str, Any]) -> bool:
    """Whether `move`'s wiring may already be switched (from its cut-over on): it can no longer be aborted."""
    phase = move.get("phase")
    return phase in (VERIFY, CLEANUP) or (phase == REWIRE and bool(move.get("rewire_started")))


def next_steps(move: dict[str, Any]) -> str:
    """What takes the unfinished `move` on from where it stands, naming only commands accepted in its phase (a
    move never points at a command that refuses it): resume or abort before the cut-over; after it, resume only
    (a move back undoes it), and at the cleanup also resume keeping the source (which removes nothing, so it
    always finishes; `--remove-source` removes the kept copy later); while it is being aborted, abort again."""
    resume, abort = commands(move)
    phase = move.get("phase")
    if phase == ABORTING:
        return f"finish undoing it with `{abort}`"
    if not past_cutover(move):
        return f"finish it with `{resume}` or undo it with `{abort}`"
    source = sorted(set((move.get("sources") or {}).values()))
    back = (f"; to undo it, move back afterwards with `platform move {move['selector']} --to {source[0]} --env "
            f"{move['env']}`") if source else ""
    if phase == CLEANUP:
        return (f"it is past cut-over: finish it with `{resume}` (removes the source copy), or with `{resume} "
                f"--keep-source` (keeps it, removes nothing; remove it later with `platform move {move['selector']} "
                f"--to {move['target']} --env {move['env']} --remove-source`){back}")
    return f"it is past cut-over: finish it with `{resume}`{back}"


def describe(move: dict[str, Any]) -> str:
    """One line: what moves where, its phase, who started it and when."""
    sources = ", ".join(sorted(set(move.get("sources", {}).values()))) or "?"
    holder = Holder.from_json(move.get("running"))
    alive = holder.alive() if holder else None
    where = "" if holder is None else (f"; running now: pid {holder.pid} on {holder.host}" if alive else
                                       f"; its last run (pid {holder.pid} on {holder.host}) is gone" if alive is False
                                       else f"; running on {holder.host} (pid {holder.pid}), or killed there")
    return (f"move of {move['selector']} from {sources} to {move['target']} is unfinished (phase {move['phase']}, "
            f"started by {move.get('started_by', '?')} at {move.get('started', '?')}{where})")


def settled_placement(moves: list[dict[str, Any]], env: Environment) -> list[str]:
    """Placement lines the environment file disagrees with after a finished or aborted move (a checkout that has
    not pulled the edited file): planning with it would move the workload again."""
    lines = []
    last: dict[str, dict[str, Any]] = {}
    for move in moves:
        if move.get("phase") in (DONE, ABORTED):
            last[move["selector"]] = move
    for selector, move in last.items():
        value = move.get("new_value") if move["phase"] == DONE else move.get("old_value")
        if env.placement.get(selector) != value:
            shown = f'"{selector}" = "{value}"' if value else f'no "{selector}" line'
            lines.append(f"note: {env.file} does not place {selector} where its last move left it ({shown}, the move "
                         f"was {'finished' if move['phase'] == DONE else 'aborted'}): pull that change, or this plan "
                         "moves it")
    return lines


def notice(moves: list[dict[str, Any]], env: Environment) -> list[str]:
    """What `plan`/`apply` say first about the environment's moves (empty when there is nothing to say)."""
    move = unfinished(moves)
    if move is None:
        return settled_placement(moves, env)
    lines = [describe(move)]
    stateful = ", ".join(move.get("stateful", [])) or "none"
    lines.append(f"  its data ({stateful}) stays where the move put it: changes that would destroy it are refused")
    pin = pinned(move)
    if pin is not None and env.placement.get(pin[0]) != pin[1]:
        shown = f'"{pin[0]}" = "{pin[1]}"' if pin[1] else f'no "{pin[0]}" line'
        lines.append(f"  placement of {pin[0]} is the move's ({shown}), whatever {env.file} says")
    lines.append(f"  {next_steps(move)}")
    return lines


def _from_legacy(move: dict[str, Any]) -> dict[str, Any]:
    """A move entry of the project-local record (before format 1) in today's shape."""
    selector, old = move["selector"], dict(move.get("old_placement") or {})
    phase = move.get("phase", TARGET)
    kept = bool(move.get("source_kept"))
    if phase == CLEANUP and kept:  # the old record left a kept source in `cleanup`: today that move is done
        phase = DONE
    return {**{k: move[k] for k in ("id", "env", "selector", "target", "sources", "moved", "stateful", "kinds",
                                    "source_stacks", "target_stacks") if k in move},
            "old_value": old.get(selector), "new_value": move["target"], "phase": phase, "source_kept": kept,
            "target_kept": False, "urls": move.get("urls", {}), "reuses": None, "started": "", "started_by": "",
            "running": None, "cutover_at": None, "protected": [], "shared": {},
            "report": {"phases": move.get("phases", []), "results": []}}


class RecordUnavailable(PlatformError):
    """The state backend holding the move record cannot be read (missing, unreachable, no credentials)."""


class MoveRecords:
    """An environment's move record in its state backend (read, and changed under the record's lock)."""

    def __init__(self, project: Project, env: Environment, doc: Document | None = None) -> None:
        self.project = project
        self.env = env
        self.doc = doc or document(project.root, env, DOCUMENT)

    @property
    def unlock_command(self) -> str:
        return f"platform unlock --env {self.env.name}"

    def describe(self) -> str:
        return self.doc.describe()

    def _parse(self, data: Any) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("moves"), list):
            raise PlatformError(f"{self.doc.describe()} is not a move record (expected {{\"moves\": [...]}}); it was "
                                "left as it is")
        if data.get("format", FORMAT) != FORMAT:
            raise PlatformError(f"{self.doc.describe()} has format {data.get('format')!r}; this version reads "
                                f"format {FORMAT}: upgrade platform-sdk")
        return list(data["moves"])

    def _read(self) -> Any:
        try:
            return read_json(self.doc, None)
        except PlatformError:
            raise
        except Exception as err:  # noqa: BLE001 - the backend's client errors: one clear message
            raise RecordUnavailable(f"cannot read the move record {self.doc.describe()}: {type(err).__name__}: {err}",
                                    hint="is the state backend created (`platform bootstrap --env "
                                         f"{self.env.name}`) and reachable with your credentials?") from None

    def load(self) -> list[dict[str, Any]]:
        """Every move of the environment (refreshing the local cache synthesis reads).

        Raises:
            RecordUnavailable: the backend cannot be read.
        """
        moves = self._parse(self._read() or self._local_record())
        self._cache(moves)
        return moves

    def _local_record(self) -> dict[str, Any]:
        """Before the record moved to the backend it was a file of the project (`.platform/moves/<env>.json`, now
        the cache): an unfinished or source-keeping move found there is carried over on first read."""
        legacy = self.project.read_moves(self.env.name)
        if "format" in legacy:  # our own cache, not a record from before: the backend is the truth
            return {"format": FORMAT, "moves": []}
        return {"format": FORMAT, "moves": [_from_legacy(m) for m in legacy.get("moves", [])
                                            if m.get("phase") != DONE or m.get("source_kept")]}

    def _cache(self, moves: list[dict[str, Any]]) -> None:
        if not moves and not self.project.move_record(self.env.name).exists():
            return  # nothing to remember, and nothing stale to replace
        self.project.write_moves(self.env.name, {"format": FORMAT, "moves": moves, "retained": all_retained(moves),
                                                 "source": self.doc.describe()})

    @contextlib.contextmanager
    def change(self, command: str) -> Iterator[list[dict[str, Any]]]:
        """Read, let the caller change the list in place, write back: all under the record's lock."""
        with locked(self.doc, command, self.unlock_command):
            moves = self._parse(self._read() or self._local_record())
            yield moves
            write_json(self.doc, {"format": FORMAT, "moves": moves})
        self._cache(moves)

    def save(self, move: dict[str, Any], command: str) -> None:
        """Replace (or add) one move entry."""
        move["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.change(command) as moves:
            moves[:] = [m for m in moves if m.get("id") != move["id"]] + [move]
