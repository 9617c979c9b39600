"""One provider process per stack: start the mirrored Python providers ourselves and have Terraform reattach to them.

Why: Terraform 1.0 starts a provider anew for each of its walks: three times per `plan` (schema, validate, plan),
once per `show -json`, twice per `apply`. For the local cloud's provider (a Python process, ~0.13 s of CPU per
start) that was 24 starts and over half the CPU of one `platform apply` of the example estate (docs/testing.md,
"The local cloud provider's start"). go-plugin's reattach lets Terraform connect to a provider that is already
running instead (`TF_REATTACH_PROVIDERS`, the Terraform plugin SDK's test harness uses it), so `platform` starts
one per stack, hands it to that stack's `plan`, `show` and `apply`, and stops it when the operation ends.

What Terraform and go-plugin do with it (Terraform 1.0.3 `main.go` parseReattachProviders and
`internal/command/meta_providers.go` unmanagedProviderFactory, go-plugin 1.4.1 `client.go` reattach and Kill):
- the JSON maps a provider source address to `{"Protocol": "grpc", "ProtocolVersion": 6, "Pid": N, "Test": true,
  "Addr": {"Network": "unix", "String": socket}}`;
- `Test` must be true: go-plugin only takes `ProtocolVersion` from it in test mode (otherwise it reports 0, which
  Terraform takes for protocol 5), and without it closing a provider instance (Kill) asks the process to shut down
  (GRPCController.Shutdown) and kills it 2 s later, so the first walk would end the provider for the others. In
  test mode Kill leaves the process alone: stopping it is ours (`stop`, SIGTERM);
- the connection has no TLS (the unmanaged client sets no TLS config): the provider serves its socket, in a
  directory only this user can enter, without TLS when `mirror.ATTACH_ENV_VAR` is set;
- Terraform trusts the process: it skips the lock file's checks for a reattached provider and `init` skips
  installing it (the lock file would lose it), so `init` never gets the variable (`ATTACHED_COMMANDS`);
- a provider's stderr is ours, not Terraform's: what it writes is kept in a temporary file and added to the
  command's output only when Terraform's log is on (TF_LOG / TF_LOG_PROVIDER), where Terraform would have put it
  (TF_LOG_PATH, else its stderr); diagnostics travel in the gRPC answers as before.

Only providers that say they can (`MirroredProvider.attachable`: the local cloud's) and only when the stack
configures one of them exactly once (no aliases: one process holds one configuration at a time); anything else,
`PLATFORM_PROVIDER_REATTACH=0`, a variable the user set already, or a provider that fails to start leaves it to
Terraform to start the provider as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from platform_sdk.localcloud import mirror
from platform_sdk.localcloud.plugin import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

if TYPE_CHECKING:
    from platform_sdk.providers.base import MirroredProvider
    from platform_sdk.terraform.process import TfRun

REATTACH_ENV_VAR = "TF_REATTACH_PROVIDERS"
SWITCH_ENV_VAR = "PLATFORM_PROVIDER_REATTACH"
"""Set to "0" (or "false", "no", "off") to let Terraform start providers itself, as before."""
SWITCHED_OFF = frozenset({"0", "false", "no", "off"})
ATTACHED_COMMANDS = frozenset({"plan", "apply", "show", "import", "refresh"})
"""The Terraform commands that start providers (`init`, `output`, `state list/mv/rm` start none)."""
START_TIMEOUT_S = 60.0
"""How long a provider may take to print its handshake (go-plugin's own default start timeout is a minute)."""
STOP_TIMEOUT_S = 30.0
"""How long a stopped provider may take to finish a call still running before it is killed."""


class StartFailed(Exception):
    """The provider did not print a usable handshake (its stderr says why; Terraform then starts it itself)."""


@dataclass
class Attached:
    """One running provider process serving one stack's Terraform commands."""

    provider: MirroredProvider
    process: subprocess.Popen[bytes]
    socket: str
    protocol: int
    started_with: dict[str, str]
    log: IO[bytes]
    log_read: int = 0

    def reattach_config(self) -> dict[str, Any]:
        """This provider's entry of TF_REATTACH_PROVIDERS."""
        return {"Protocol": "grpc", "ProtocolVersion": self.protocol, "Pid": self.process.pid, "Test": True,
                "Addr": {"Network": "unix", "String": self.socket}}

    def alive(self) -> bool:
        return self.process.poll() is None

    def new_log(self) -> bytes:
        """What the provider wrote to stderr since the last call (read without moving the file offset, which the
        provider's stderr shares)."""
        fd = self.log.fileno()
        data = os.pread(fd, max(0, os.fstat(fd).st_size - self.log_read), self.log_read)
        self.log_read += len(data)
        return data

    def signal_stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Wait for the process to leave (it finishes a call still running first); kill it after `timeout` s."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start(provider: MirroredProvider, cwd: Path, env: Mapping[str, str],
          timeout: float = START_TIMEOUT_S) -> Attached:
    """Start `provider` the way its mirror launcher would (`$PLATFORM_LOCALCLOUD_PYTHON -m <module>` in `cwd`, the
    stack's directory: a relative root is relative to it) and read its handshake. Raises StartFailed."""
    python = env.get(mirror.PYTHON_ENV_VAR)
    if not python:
        raise StartFailed(f"{mirror.PYTHON_ENV_VAR} is not set")
    log = tempfile.TemporaryFile(prefix="provider-", suffix=".log")  # noqa: SIM115 - closed by wait_stopped
    child_env = {**env, MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, mirror.ATTACH_ENV_VAR: "1"}
    child_env.pop(REATTACH_ENV_VAR, None)
    try:
        process = subprocess.Popen([python, "-m", provider.module], cwd=cwd, env=child_env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    except OSError as err:
        log.close()
        raise StartFailed(f"could not start {provider.module}: {err}") from err
    try:
        socket, protocol = _handshake(process, timeout)
    except StartFailed:
        attached = Attached(provider, process, "", 0, dict(env), log)
        attached.signal_stop()
        attached.wait_stopped(timeout=5.0)
        raise
    finally:
        assert process.stdout is not None
        process.stdout.close()  # the provider writes nothing after its handshake line
    return Attached(provider, process, socket, protocol, dict(env), log)


def _handshake(process: subprocess.Popen[bytes], timeout: float) -> tuple[str, int]:
    """go-plugin's handshake line `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT` -> (unix socket path, app protocol)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise StartFailed(f"no handshake within {timeout:.0f} s")
    line = process.stdout.readline().decode(errors="replace").strip()
    parts = line.split("|")
    if len(parts) < 5 or parts[0] != "1" or parts[2] != "unix" or parts[4] != "grpc" or not parts[1].isdigit():
        raise StartFailed(f"unexpected handshake {line!r} (exit code {process.poll()})")
    return parts[3], int(parts[1])


def stack_providers(stack_dir: Path, attachable: tuple[MirroredProvider, ...]) -> list[MirroredProvider]:
    """The attachable providers a stack's `cdk.tf.json` requires and configures at most once (no alias)."""
    try:
        document = json.loads((stack_dir / "cdk.tf.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(document, dict):
        return []
    required = (document.get("terraform") or {}).get("required_providers") or {}
    configured = document.get("provider") or {}
    by_source = {p.source: p for p in attachable}
    found = []
    for local_name, spec in required.items():
        provider = by_source.get(str(spec.get("source", ""))) if isinstance(spec, dict) else None
        blocks = configured.get(local_name) or []
        blocks = blocks if isinstance(blocks, list) else [blocks]
        if provider is not None and len(blocks) <= 1 and not any("alias" in b for b in blocks if isinstance(b, dict)):
            found.append(provider)
    return found


def log_enabled(env: Mapping[str, str]) -> bool:
    """Whether Terraform would log what a provider writes to stderr (as DEBUG lines: TF_LOG_PROVIDER, else
    TF_LOG, at DEBUG or TRACE; any other value of TF_LOG that is not a level, such as JSON, logs everything)."""
    level = (env.get("TF_LOG_PROVIDER") or env.get("TF_LOG") or "").strip().upper()
    return bool(level) and level not in ("OFF", "INFO", "WARN", "ERROR")


@dataclass
class Providers:
    """The providers attached to the stacks of one environment runner: at most one process per (stack, provider).

    `scope()` brackets one operation (plan, apply, ...): when the outermost scope ends, every provider is stopped,
    also after an error or Ctrl-C. A provider whose process ended, or that was started with another environment
    (say PLATFORM_ALLOW_DATA_LOSS, which `apply` sets), is started again.
    """

    attachable: tuple[MirroredProvider, ...]
    _running: dict[tuple[str, str], Attached] = field(default_factory=dict)
    _stacks: dict[str, list[MirroredProvider]] = field(default_factory=dict)
    _failed: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _depth: int = 0
    started: int = 0

    @classmethod
    def of_plugins(cls) -> Providers:
        from platform_sdk import providers

        return cls(tuple(p for plugin in providers.plugins().values() for p in plugin.terraform_providers
                         if p.attachable))

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.stop_all()

    def env_for(self, stack: str, stack_dir: Path, args: list[str], env: Mapping[str, str]) -> dict[str, str]:
        """The variables to add to `terraform <args>`'s environment (`env`, all of it) for it to reattach to the
        stack's providers, started now if they are not running; {} when nothing is attached."""
        switched_off = env.get(SWITCH_ENV_VAR, "").strip().lower() in SWITCHED_OFF
        if not self._depth or args[:1] == [] or args[0] not in ATTACHED_COMMANDS or switched_off \
                or env.get(REATTACH_ENV_VAR):
            return {}
        if stack not in self._stacks:
            self._stacks[stack] = stack_providers(stack_dir, self.attachable)
        configs = {}
        for provider in self._stacks[stack]:
            attached = self._ensure(stack, stack_dir, provider, env)
            if attached is not None:
                configs[provider.source] = attached.reattach_config()
        return {REATTACH_ENV_VAR: json.dumps(configs, sort_keys=True)} if configs else {}

    def _ensure(self, stack: str, stack_dir: Path, provider: MirroredProvider,
                env: Mapping[str, str]) -> Attached | None:
        key = (stack, provider.source)
        with self._lock:
            if key in self._failed:
                return None
            attached = self._running.get(key)
        if attached is not None and attached.alive() and attached.started_with == dict(env):
            return attached
        if attached is not None:
            attached.signal_stop()
            attached.wait_stopped()
        try:
            attached = start(provider, stack_dir, env)
        except StartFailed:
            with self._lock:
                self._running.pop(key, None)
                self._failed.add(key)
            return None
        with self._lock:
            self._running[key] = attached
            self.started += 1
        return attached

    def add_log(self, stack: str, run: TfRun, env: Mapping[str, str]) -> TfRun:
        """`run` with what the stack's providers wrote to stderr during it, where Terraform would have logged it
        had it started them (only with its log on)."""
        with self._lock:
            attached = [a for (name, _), a in self._running.items() if name == stack]
        lines = []
        for provider in attached:
            source, version = provider.provider.source, provider.provider.version
            name = f"provider.{mirror.executable_name(source.rsplit('/', 1)[-1], version)}"
            lines += [f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} [DEBUG] {name}: {line}"
                      for line in provider.new_log().decode(errors="replace").splitlines()]
        if not lines or not log_enabled(env):
            return run
        text = "\n".join(lines) + "\n"
        path = env.get("TF_LOG_PATH")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(text)
            return run
        return replace(run, stderr=run.stderr + text)

    def stop_all(self) -> None:
        """Stop every provider (SIGTERM to all, then wait for each) and forget what was learned of the stacks."""
        with self._lock:
            attached = list(self._running.values())
            self._running.clear()
            self._stacks.clear()
            self._failed.clear()
        for provider in attached:
            provider.signal_stop()
        for provider in attached:
            provider.wait_stopped()

    @property
    def running(self) -> list[int]:
        """Process ids of the running providers."""
        with self._lock:
            return [a.process.pid for a in self._running.values()]

