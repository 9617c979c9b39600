"""Run local functions in worker subprocesses: one small pool of long-lived workers per function.

Why subprocesses rather than importing functions into the gateway: a function's environment
(`PLATFORM_BUCKET_*`, `PLATFORM_GRANTS`, ...) lives in `os.environ`, which is per process; two functions
may both have a top-level module called `api`; each package ships its own copy of `platform_sdk.runtime`
that must not mix with the gateway's; and a function that hangs, leaks or calls `sys.exit` must not take
the gateway down. A worker is a plain `python -c` process whose cwd and `sys.path[0]` are the function's
code directory and whose environment is the registry's `environment` (plus a few basics), like a cloud
runtime. A package without its own copy of `platform_sdk` imports the gateway's: the directory holding it
goes on the worker's `sys.path` after the code directory when the interpreter would not find it there (a
gateway run from a checkout through PYTHONPATH). The worker imports the handler once and then serves events
over a line-based JSON protocol: requests on stdin, replies on a private duplicate of stdout, while fd 1 is
pointed at stderr so `print()` in user code shows up in the gateway log instead of corrupting the protocol.

In a rehearsal a function the rehearsed cloud would cut off from the internet (a PLATFORM_DENY entry for
`internet.https`, contract.INTERNET) gets HTTP_PROXY and HTTPS_PROXY pointing at a loopback port where nothing
listens (`REFUSING_PROXY`), with NO_PROXY covering loopback (the local cloud's own endpoints) and whatever its own
NO_PROXY names: a client that honours the proxy variables (urllib, requests, httpx, botocore) fails at once with
"connection refused" where the cloud's call would time out, and the worker's log says why (`internet_denial`).

A worker belongs to one generation of a function's registry entry; when a re-apply rewrites the entry,
the next invocation gets a fresh pool and the old workers are stopped once idle.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platform_sdk
from platform_sdk import contract
from platform_sdk.localcloud import logs
from platform_sdk.localcloud.registry import FunctionEntry

log = logging.getLogger("platform.dev")
fn_log = logging.getLogger("platform.dev.function")

# Environment variables a worker inherits from the gateway (everything else comes from the registry).
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT", "PLATFORM_LOG_LEVEL")
STDERR_TAIL = 40
REFUSING_PROXY = "http://127.0.0.1:9"
"""The proxy of a worker cut off from the internet: the discard port on loopback, where nothing listens here."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SDK_PARENT = str(Path(platform_sdk.__file__).resolve().parent.parent)
"""The directory holding the gateway's `platform_sdk` package (workers import the runtime from there)."""

WORKER_SOURCE = r'''
import importlib, json, os, sys, traceback
code_dir, handler_path, sdk_parent = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[0] = code_dir
if sdk_parent not in sys.path:
    sys.path.insert(1, sdk_parent)
proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
os.dup2(2, 1)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)

def send(message):
    proto_out.write(json.dumps(message, default=str) + "\n")
    proto_out.flush()

try:
    module_name, _, attr = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attr)
except BaseException as exc:
    send({"ready": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    sys.exit(1)
send({"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
for line in proto_in:
    event = json.loads(line)
    try:
        send({"ok": True, "result": handler(event)})
    except Exception as exc:
        send({"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    except BaseException as exc:
        send({"ok": False, "fatal": True, "error": f"{type(exc).__name__}: {exc}",
              "traceback": traceback.format_exc()})
        break
'''


class InvocationError(Exception):
    """The function could not produce a result: failed to start, crashed, timed out, or raised."""

    def __init__(self, kind: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind  # "init", "crash", "timeout", "handler"
        self.detail = detail


@dataclass
class WorkerOptions:
    """How workers are started: the interpreter, extra environment, pool size."""

    python: str = sys.executable
    extra_env: dict[str, str] = field(default_factory=dict)
    max_workers: int = 4
    per_function_env: Callable[[FunctionEntry], dict[str, str]] | None = None
    """Variables one function's workers get besides `extra_env` (the gateway's identity token for it)."""


def internet_denial(entry: FunctionEntry) -> str | None:
    """The rehearsal's message when the rehearsed cloud would cut the function off from the internet (its
    PLATFORM_DENY lists `internet.https`), else None. A malformed PLATFORM_DENY is left to the runtime to report."""
    try:
        denials = contract.decode_denials(entry.environment.get(contract.DENY, ""))
    except ValueError:
        return None
    return next((d.message for d in denials if d.operation == contract.INTERNET), None)


def worker_env(entry: FunctionEntry, extra: dict[str, str]) -> dict[str, str]:
    """The function's process environment: a few basics, the registry's `environment`, then gateway extras; the
    refusing proxy when a rehearsal cuts it off from the internet (`internet_denial`)."""
    # the gateway logs every invocation; the runtime's own INFO line would repeat it (its warnings still show)
    env = {"PLATFORM_LOG_LEVEL": "WARNING"}
    env.update({k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ})
    env.update(entry.environment)
    env.update(extra)
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    if internet_denial(entry) is not None:
        own = [host for host in env.get("NO_PROXY", env.get("no_proxy", "")).split(",") if host.strip()]
        no_proxy = ",".join(dict.fromkeys([*LOOPBACK_HOSTS, *own]))
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = REFUSING_PROXY
        env.update(NO_PROXY=no_proxy, no_proxy=no_proxy)
    return env


class Worker:
    """One `python -c WORKER_SOURCE` process serving one function generation, one event at a time."""

    def __init__(self, entry: FunctionEntry, options: WorkerOptions) -> None:
        self.entry = entry
        self.generation = entry.generation
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        # The invocation this worker runs (one at a time): its output lines carry this request id. Kept until the
        # next event, so a line still in the pipe when the reply arrives is attributed to the right request.
        self.request_id: str | None = None
        if not entry.code_dir.is_dir():
            raise InvocationError("init", f"code directory {entry.code_dir} does not exist (apply again?)")
        self.proc = subprocess.Popen(
            [options.python, "-c", WORKER_SOURCE, str(entry.code_dir), entry.handler, SDK_PARENT],
            cwd=entry.code_dir,
            env=worker_env(entry, {**options.extra_env,
                                   **(options.per_function_env(entry) if options.per_function_env else {})}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # Ctrl-C in the terminal reaches the gateway, which stops workers itself
        )
        self._stderr_thread = threading.Thread(target=self._pump_stderr, name=f"stderr-{entry.name}", daemon=True)
        self._stderr_thread.start()
        denial = internet_denial(entry)
        if denial is not None:
            self._log(f"rehearsal: cut off from the internet (proxy {REFUSING_PROXY}), as the rehearsed cloud "
                      f"would: {denial}")
        hello = self._read(timeout=max(entry.timeout, 30.0))
        if not hello.get("ready"):
            self.stop()
            raise InvocationError("init", f"function {entry.name} failed to load {entry.handler}: "
                                          f"{hello.get('error', 'no reason given')}", hello.get("traceback", ""))

    def _pump_stderr(self) -> None:
        """Forward the function's logs and prints, one gateway log line each, and keep them in the function's local
        log (localcloud/logs.py) with the request id of the invocation that wrote them."""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self.stderr_tail.append(line)
            self._log(line)

    def _log(self, line: str) -> None:
        """One line in the gateway log and in the function's local log, with the current request id."""
        fn_log.info("[%s] %s", self.entry.name, line)
        try:
            logs.write(self.entry.root, self.entry.name, line, self.request_id)
        except OSError as exc:  # a full disk must not stop the function's output
            log.warning("fn=%s cannot write its local log: %s", self.entry.name, exc)

    def _read(self, timeout: float) -> dict[str, Any]:
        """One protocol line; kill the worker if it takes longer than `timeout` seconds."""
        assert self.proc.stdout is not None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            self.kill()

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            self.proc.wait()
            self._stderr_thread.join(timeout=1)
            if expired.is_set():
                raise InvocationError("timeout", f"function {self.entry.name} timed out after {timeout:g}s")
            tail = "\n".join(self.stderr_tail)
            raise InvocationError("crash", f"function {self.entry.name} worker exited with code "
                                           f"{self.proc.returncode}", tail)
        return json.loads(line)

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        """Send one event and wait for the reply; raises InvocationError for anything but a result."""
        assert self.proc.stdin is not None
        self.request_id = event.get("request_id")
        try:
            self.proc.stdin.write(json.dumps(event) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise InvocationError("crash", f"function {self.entry.name} worker is gone: {exc}",
                                  "\n".join(self.stderr_tail)) from None
        reply = self._read(timeout=self.entry.timeout)
        if reply.get("fatal"):
            self.stop()  # the handler called sys.exit or similar: this process is done
        if not reply.get("ok"):
            raise InvocationError("handler", str(reply.get("error")), str(reply.get("traceback") or ""))
        result = reply.get("result")
        return result if isinstance(result, dict) else {"result": result}

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    def stop(self) -> None:
        """Close stdin (the worker's loop ends), then make sure it is gone."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class FunctionPool:
    """Up to `max_workers` warm workers of one function generation; idle ones are reused."""

    def __init__(self, entry: FunctionEntry, options: WorkerOptions) -> None:
        self.entry = entry
        self.options = options
        self._idle: list[Worker] = []
        self._busy = 0
        self._closed = False
        self._cond = threading.Condition()

    def _acquire(self) -> Worker | None:
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        self._busy += 1
                        return worker
                if self._busy < self.options.max_workers:
                    self._busy += 1
                    return None  # caller starts a new worker outside the lock
                self._cond.wait()

    def _release(self, worker: Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            keep = worker is not None and worker.alive and not self._closed
            if keep:
                assert worker is not None
                self._idle.append(worker)
            self._cond.notify()
        if worker is not None and not keep:
            worker.stop()

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The function's reply, and whether this call paid for a cold start."""
        worker = self._acquire()
        cold = worker is None
        try:
            if worker is None:
                worker = Worker(self.entry, self.options)
            return worker.call(event), cold
        finally:
            self._release(worker)

    def prewarm(self) -> None:
        """Start one worker ahead of the first event (load errors are logged now, not on the first request)."""
        worker = self._acquire()
        try:
            if worker is None:
                worker = Worker(self.entry, self.options)
        except InvocationError as exc:
            detail = f"\n{exc.detail.rstrip()}" if exc.detail else ""
            log.error("fn=%s cannot start: %s%s", self.entry.name, exc, detail)
        finally:
            self._release(worker)

    def close(self) -> None:
        """Stop idle workers now; busy ones stop when their current event is done."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


@dataclass
class Invocation:
    """One call of a function, as logged and listed at /_platform/invocations."""

    request_id: str
    function: str
    trigger: str
    status: str  # "200".."599" for HTTP, "ok" / "error" / "ignored" for events
    duration_ms: float
    detail: str = ""
    error: str | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "function": self.function, "trigger": self.trigger,
                "status": self.status, "duration_ms": round(self.duration_ms, 1), "detail": self.detail,
                "error": self.error, "at": self.at}


class Invoker:
    """Pools by function name; a new registry generation gets a new pool (that is the code reload)."""

    def __init__(self, options: WorkerOptions | None = None) -> None:
        self.options = options or WorkerOptions()
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def pool(self, entry: FunctionEntry) -> FunctionPool:
        """The pool of the entry's generation; replacing an older generation's pool stops its idle workers."""
        with self._lock:
            pool = self._pools.get(entry.name)
            if pool is not None and pool.entry.generation == entry.generation:
                return pool
            old = pool
            pool = self._pools[entry.name] = FunctionPool(entry, self.options)
        if old is not None:
            old.close()
        return pool

    def invoke(self, entry: FunctionEntry, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return self.pool(entry).invoke(event)

    def prewarm(self, entry: FunctionEntry) -> None:
        self.pool(entry).prewarm()

    def forget(self, name: str) -> None:
        """A function was destroyed: stop its workers."""
        with self._lock:
            pool = self._pools.pop(name, None)
        if pool is not None:
            pool.close()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
