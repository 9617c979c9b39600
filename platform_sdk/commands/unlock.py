"""`platform unlock --env NAME [STACK ...]`: release locks a killed run left behind, after proving it is gone.

- With STACKs: each stack's Terraform state lock (`terraform force-unlock`), only when the lock was taken on this
  machine and no run is alive here: no `platform` command holds the environment's workspace lock, and no
  Terraform process works in that stack. A lock taken on another machine is refused, naming that machine. A lock
  of the local backend is always refused: it is an OS lock (fcntl) on the state file, which the kernel drops when
  its holder exits, so a lock Terraform reports there is held by a live process of this machine.
- Without: the environment's own records — the move record's lock and a move marked as running — when their
  recorded holder (host, pid, process start time) is provably gone.

Exit codes: 0 released (or nothing was locked), 1 refused (a run may be alive), 2 bad input.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from platform_sdk.commands._common import EnvOption, JsonOption, ProjectOption, console, err_console, user_errors

EXIT_REFUSED = 1


@user_errors
def unlock(env: EnvOption, stacks: Annotated[list[str] | None, typer.Argument(
               metavar="[STACK]...", help="Stacks whose Terraform state lock to release (default: the environment's "
                                          "move record).")] = None,
           project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Release a lock left by a killed run, after proving that no run holding it is alive."""
    outcomes = _stack_locks(project, env, stacks) if stacks else _record_locks(project, env)
    if as_json:
        print(json.dumps({"environment": env, "locks": outcomes}, indent=2))
    else:
        for outcome in outcomes:
            color = {"released": "green", "not locked": "dim"}.get(outcome["status"], "red")
            console.print(f"[{color}]{outcome['status']:>10}[/]  {escape(outcome['what'])}: "
                          f"{escape(outcome['detail'])}", highlight=False, soft_wrap=True)
    if any(o["status"] == "refused" for o in outcomes):
        raise typer.Exit(EXIT_REFUSED)


def _stack_locks(project: Any, env_name: str, stacks: list[str]) -> list[dict[str, str]]:
    from platform_sdk.commands.deploy import known_stacks, session
    from platform_sdk.state_documents import hostname
    from platform_sdk.terraform.locks import local_backend, parse_state_lock, terraform_processes

    outcomes = []
    stacks = list(dict.fromkeys(stacks))  # a stack named twice is checked (and released) once
    check = known_stacks(stacks, "STACK")  # an unknown name is refused before anything is written
    with session(project, env_name, "unlock", parallelism=1, check=check) as s:  # the workspace lock: no command runs
        for name in stacks:
            busy = terraform_processes(s.runner.stack_dir(name))
            if busy:
                pids = ", ".join(f"pid {pid} in {cwd}" for pid, cwd in busy)
                outcomes.append({"what": f"stack {name}", "status": "refused",
                                 "detail": f"Terraform is still running in it on this machine ({pids}): wait for it "
                                           "to exit (it releases its lock itself)"})
                continue
            stack_dir = s.runner.stack_dir(name)
            terraform = s.runner.terraform
            init = terraform.run(stack_dir, ["init", "-input=false", "-no-color"])
            probe = terraform.run(stack_dir, ["plan", "-input=false", "-no-color", "-refresh=false",
                                              "-lock-timeout=0s"]) if init.ok else init
            lock = parse_state_lock(probe.stderr + "\n" + probe.stdout)
            if lock is None:
                detail = "its state is not locked" if probe.ok or init.ok else \
                    f"could not check: {(probe.stderr or probe.stdout).strip()[:300]}"
                outcomes.append({"what": f"stack {name}", "status": "not locked" if init.ok else "refused",
                                 "detail": detail})
                continue
            if local_backend(stack_dir):  # an OS lock (fcntl) on the state file: its holder is alive here
                outcomes.append({"what": f"stack {name}", "status": "refused",
                                 "detail": f"its state file {lock.path or '?'} is locked by a process that is still "
                                           f"running on this machine ({lock.who or 'an unknown holder'}, "
                                           f"{lock.operation_name} since {lock.created or '?'}): wait for it to finish "
                                           "or stop it; the operating system releases a local state lock when its "
                                           "holder exits, and force-unlock cannot"})
                continue
            if lock.host != hostname():
                outcomes.append({"what": f"stack {name}", "status": "refused",
                                 "detail": f"locked by {lock.who} since {lock.created} (lock id {lock.id}), on another "
                                           f"machine: run `platform unlock --env {s.env.name} {name}` on "
                                           f"{lock.host}, which can check that no run is alive there"})
                continue
            run = terraform.run(stack_dir, ["force-unlock", "-force", "-no-color", lock.id])
            if run.ok:
                outcomes.append({"what": f"stack {name}", "status": "released",
                                 "detail": f"lock {lock.id} of {lock.who} since {lock.created} "
                                           f"({lock.operation_name}): no run is alive "
                                           "on this machine"})
            else:
                failed = (run.stderr or run.stdout).strip()[:300]
                outcomes.append({"what": f"stack {name}", "status": "refused",
                                 "detail": f"terraform force-unlock failed: {failed}"})
    return outcomes


def _record_locks(project: Any, env_name: str) -> list[dict[str, str]]:
    from platform_sdk.commands._common import load
    from platform_sdk.move.record import MoveRecords, unfinished
    from platform_sdk.state_documents import Holder
    from platform_sdk.terraform.locks import WorkspaceLocked, workspace_lock

    proj, env, _ = load(project, env_name)
    outcomes = []
    try:
        with workspace_lock(proj.cache_dir, env.name, "unlock"):
            records = MoveRecords(proj, env)
            me = Holder.current("platform unlock")
            found = records.doc.acquire(me.to_json()) if _may_be_held(records.doc) else None
            if found is None:
                records.doc.release(me.to_json())
                outcomes.append({"what": records.describe(), "status": "not locked", "detail": "nobody holds it"})
            else:
                outcomes.append(_release(records.doc.force_release, found, records.describe(), env.name))
            move = unfinished(records.load())
            running = Holder.from_json(move.get("running")) if move else None
            if move is not None and running is not None and outcomes[0]["status"] == "refused":
                # clearing the mark is a write under the record's lock, which a live run holds: never wait for it
                outcomes.append({"what": f"the move of {move['selector']}", "status": "refused",
                                 "detail": "the move record is locked (above): its running mark was left as it is"})
            elif move is not None and running is not None:
                outcome = _release(lambda _: None, running.to_json(), f"the move of {move['selector']}", env.name)
                if outcome["status"] == "released":
                    move["running"] = None
                    records.save(move, "platform unlock")
                    outcome["detail"] += f"; resume it with `platform move --resume --env {env.name}`"
                outcomes.append(outcome)
    except WorkspaceLocked as err:
        err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_REFUSED) from None
    return outcomes


def _may_be_held(doc: Any) -> bool:
    """Whether the record's lock may be held, found without writing: a local record's lock is an OS lock (flock) on
    a file next to it, which taking and giving back leaves behind (made if missing, its holder written in it); a
    missing lock file, or one nobody has locked, is not held. A lock in a remote backend is asked by taking it (a
    lock object, removed again when given back)."""
    import fcntl
    import os

    from platform_sdk.state_documents import LocalDocument

    if not isinstance(doc, LocalDocument):
        return True
    try:
        fd = os.open(doc.lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # fails while a holder has its exclusive lock
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing gives back the shared lock, if taken
    return False


def _release(release: Any, found: dict[str, Any], what: str, env: str) -> dict[str, str]:
    from platform_sdk.state_documents import Holder

    holder = Holder.from_json(found)
    if holder is None:
        return {"what": what, "status": "refused", "detail": f"held by an unreadable holder ({found}): check by hand"}
    alive = holder.alive()
    if alive is False:
        release(found)
        return {"what": what, "status": "released", "detail": f"{holder.describe()} is gone"}
    if alive:
        return {"what": what, "status": "refused", "detail": f"{holder.describe()} is running: wait for it"}
    return {"what": what, "status": "refused",
            "detail": f"held by {holder.describe()} on another machine: run `platform unlock --env {env}` on "
                      f"{holder.host}"}


COMMANDS = (unlock,)
