"""`LocalPlatform`: a project's services applied to a throwaway local cloud, served by the `platform dev` gateway.

What a test does with it (names are neutral, "service.resource", as in the service files):

- act as a deployed function: `platform.as_function("thumbnails.resize").bucket("thumbs")` (see `scope.py`);
- fire triggers: `upload` (object created), `send_message` (queue message), `tick` (schedule), `http` (an HTTP
  request through the gateway: a function's URL or a CDN route), each through the same code `platform dev` runs
  (`GatewayCore`: its bucket watcher, queue delivery, scheduler and HTTP routes);
- wait for effects: `wait_for(check, what=...)` polls a condition, `wait_for_invocation(address)` waits for a
  function's next invocation; both fail with a message naming what was awaited, how long, and what the functions
  involved did meanwhile (their invocations, errors and log lines), and fail at once when such a function raised.

Schedules do not run by the clock (a test fires them with `tick`); everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from platform_sdk import contract
from platform_sdk.runtime.buckets import BucketClient
from platform_sdk.testing.environment import ThrowawayEnvironment, new_workdir, sdk_parent
from platform_sdk.testing.scope import FunctionView

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0
"""Seconds the waits wait unless told otherwise: a bound on waiting, not a performance expectation."""
WATCH_START_TIMEOUT = 30.0
POLL_SECONDS = 0.05
LOG_TAIL = 20


@dataclass(frozen=True)
class Response:
    """An HTTP response from the gateway: `status`, `headers` (lower-case names), `body` bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON. Raises ValueError (naming the status and the body) when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise ValueError(f"HTTP {self.status}: the body is not JSON: {self.text[:500]!r}") from None


class LocalPlatform:
    """The applied throwaway environment and its gateway; build it with `LocalPlatform.start(...)`.

    Attributes:
        environment: the throwaway copy (`environment.root` is its project root).
        gateway: the running gateway (`platform_sdk.localcloud.dev.Gateway`); `url` is its base URL.
    """

    def __init__(self, environment: ThrowawayEnvironment, gateway: Any) -> None:
        self.environment = environment
        self.gateway = gateway
        self.core = gateway.core
        self._resources = environment.resources()
        self._last_fired = time.time()

    # -- lifecycle ------------------------------------------------------------------------------------------
    @classmethod
    @contextmanager
    def start(cls, project: Path, env: str = "local", workdir: Path | None = None,
              secrets: Mapping[str, str] | None = None) -> Iterator[LocalPlatform]:
        """Copy `project`, apply environment `env` to the local cloud in the copy, serve it; stop on exit.

        `secrets` ({"service.secret": value}) are set in the copy before the apply. However the block ends (the
        tests pass or fail, the copy or its apply fails, Ctrl-C, an exception), the gateway and its function
        workers stop and every database server the copy started is stopped and deleted with its data
        (`ThrowawayEnvironment.remove`); the developer's own environment is never touched.

        Raises:
            ApplyError: the copy could not be made or `platform apply` failed (its output in the message).
            RuntimeError: the environment places nothing on the local cloud, or the bucket watcher did not start.
        """
        from platform_sdk.envs import find_environment
        from platform_sdk.localcloud.dev import Gateway, roots_for_env
        from platform_sdk.localcloud.invoker import WorkerOptions

        throwaway = ThrowawayEnvironment(Path(project).resolve(), env, workdir or new_workdir())
        gateway = None
        try:
            root = throwaway.prepare()
            throwaway.set_secrets(secrets or {})
            throwaway.apply()
            throwaway.give_back_packages()
            roots = roots_for_env(root, find_environment(root / "envs", env))
            if not roots:
                raise RuntimeError(f"environment {env!r} places nothing on the local cloud: `platform test` needs an "
                                   "environment like envs/local.toml (--platform-env NAME)")
            # the functions' workers import the same platform_sdk as this process (local packages do not ship it)
            options = WorkerOptions(extra_env={"PYTHONPATH": sdk_parent()})
            gateway = Gateway(roots, 0, options=options, schedules=False, retry_base=0.2)
            gateway.start()
            if not gateway.core.wait_watching(WATCH_START_TIMEOUT):
                raise RuntimeError(f"the gateway's bucket watcher did not start within {WATCH_START_TIMEOUT:g}s")
            yield cls(throwaway, gateway)
        finally:
            try:
                if gateway is not None:
                    gateway.stop()  # its workers first: they hold connections to the servers
            finally:
                throwaway.remove()

    @property
    def url(self) -> str:
        """The gateway's base URL, `http://127.0.0.1:<port>`."""
        return str(self.gateway.url)

    @property
    def root(self) -> Path:
        """The throwaway copy's project root."""
        return self.environment.root

    # -- names ----------------------------------------------------------------------------------------------
    def _split(self, address: str) -> tuple[str, str]:
        service, dot, name = address.partition(".")
        if not dot or not service or not name:
            raise ValueError(f"{address!r} is not a 'service.resource' address")
        return service, name

    def _output(self, address: str, kind: str, suffix: str) -> str:
        service, name = self._split(address)
        value = self._resources.get((service, kind, f"{name.replace('-', '_')}_{suffix}"))
        if value is None:
            known = sorted(f"{s}.{n.rsplit('_', 1)[0].replace('_', '-')}" for s, k, n in self._resources
                           if k == kind and n.endswith(f"_{suffix}"))
            raise LookupError(f"no {kind} {address!r} in environment {self.environment.env!r} "
                              f"(its {kind}s: {', '.join(known) or 'none'})")
        return value

    def function_name(self, address: str) -> str:
        """The physical name of the function `address` ("service.function"). Raises LookupError if none."""
        return self._output(address, "function", "name")

    def entry(self, address: str) -> Any:
        """The function's registry entry (`platform_sdk.localcloud.registry.FunctionEntry`)."""
        name = self.function_name(address)
        entry = self.core.registry.function(name)
        if entry is None:
            raise LookupError(f"function {address!r} ({name}) is not deployed on the local cloud")
        return entry

    # -- acting as a function -------------------------------------------------------------------------------
    def as_function(self, address: str) -> FunctionView:
        """The runtime clients as the deployed function `address` sees them, grants enforced (see scope.py)."""
        entry = self.entry(address)
        environment = {**entry.environment, contract.LOCAL_GATEWAY: self.url,
                       contract.LOCAL_IDENTITY: self.core.identities.mint(entry.name)}
        return FunctionView(address, entry.name, environment)

    # -- the operator's view: unrestricted clients for setting up and checking -------------------------------
    def bucket(self, address: str) -> BucketClient:
        """The bucket `address` ("service.bucket") with no grant in the way, as its owner sees it in a console
        (`put` here is an upload from outside: it fires the bucket's object-created triggers)."""
        from platform_sdk.runtime.buckets import open_bucket

        return open_bucket(self._output(address, "bucket", "url"))

    def queue(self, address: str) -> Any:
        """The queue `address` ("service.queue") with no grant in the way (`send`, `counts()`)."""
        from platform_sdk.runtime.queues import open_queue

        return open_queue(self._output(address, "queue", "url"))

    # -- triggers -------------------------------------------------------------------------------------------
    def _fired(self) -> None:
        self._last_fired = time.time()

    def upload(self, address: str, key: str, data: bytes, content_type: str | None = None) -> None:
        """Put an object into the bucket `address` from outside; its object-created triggers fire (asynchronously,
        as on a cloud: wait for their effects)."""
        self._fired()
        self.bucket(address).put(key, data, content_type=content_type)

    def send_message(self, address: str, body: bytes | str, attributes: dict[str, str] | None = None) -> str:
        """Put a message on the queue `address` as a producer would; the functions it triggers get it
        (asynchronously). Returns the message id."""
        from platform_sdk.runtime.queues import check_attributes, encode_body

        self._fired()
        return str(self.queue(address).send(encode_body(body), check_attributes(attributes)))

    def tick(self, address: str, cron: str | None = None, when: datetime | None = None, check: bool = True) -> Any:
        """Run the function's schedule now (its first, or `cron`), synchronously; returns the invocation
        (`status`, `error`, `request_id`).

        Raises:
            LookupError: the function has no such schedule.
            AssertionError: `check` and the run failed (the message holds its error and log).
        """
        __tracebackhide__ = True  # pytest shows the test's line, not these internals
        entry = self.entry(address)
        if not entry.schedules or (cron is not None and cron not in entry.schedules):
            raise LookupError(f"function {address!r} has no schedule {cron or ''} (it has: "
                              f"{', '.join(entry.schedules) or 'none'})")
        self._fired()
        invocation = self.core.run_schedule(entry, cron or entry.schedules[0], when or datetime.now(UTC))
        if check and invocation.status == "error":
            raise AssertionError(f"schedule of {address} failed: {invocation.error}\n{self._story([address], 0)}")
        return invocation

    def http(self, address: str, method: str = "GET", path: str = "/", *, json_body: Any = None,
             body: bytes | str = b"", headers: Mapping[str, str] | None = None,
             query: Mapping[str, str] | None = None, as_function: str | None = None,
             timeout: float = DEFAULT_TIMEOUT) -> Response:
        """An HTTP request through the gateway to the function or CDN `address` ("service.api", "web.cdn").

        A function is reached at its own URL (`/fn/<name>`), a CDN at its route (`/cdn/<name>/`); `path` is
        appended. `json_body` is sent as JSON; `as_function` signs the request with that function's identity (what
        an `http(auth="iam")` trigger admits when that function was granted `invokes`). An HTTP error status is a
        response, not an exception.
        """
        service, name = self._split(address)
        key = name.replace("-", "_")
        if (service, "function", f"{key}_name") in self._resources:
            base = f"{self.url}/fn/{self.function_name(address)}"
        elif (service, "cdn", f"{key}_url") in self._resources:
            route = urllib.parse.urlsplit(self._output(address, "cdn", "url")).path.rstrip("/")
            base = f"{self.url}{route}"
        else:
            raise LookupError(f"no function or CDN {address!r} in environment {self.environment.env!r}")
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        data = body.encode() if isinstance(body, str) else bytes(body)
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("content-type", "application/json")
        if as_function is not None:
            sent["authorization"] = f"Bearer {self.core.identities.mint(self.function_name(as_function))}"
        url = base + (path if path.startswith("/") else f"/{path}")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        self._fired()
        request = urllib.request.Request(url, data=data if method.upper() not in ("GET", "HEAD") else None,
                                         headers=sent, method=method.upper())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 - our gateway, loopback
                return Response(reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())

    # -- observing ------------------------------------------------------------------------------------------
    def invocations(self, address: str | None = None, since: float | None = None) -> list[Any]:
        """The gateway's recent invocations (oldest first), of one function and after `since` (epoch s) if given."""
        name = self.function_name(address) if address else None
        return [i for i in list(self.core.invocations)
                if (name is None or i.function == name) and (since is None or i.at >= since)]

    def logs(self, address: str) -> list[str]:
        """What the function printed and logged on the local cloud (its local log), oldest first."""
        from platform_sdk.localcloud import logs

        entry = self.entry(address)
        return [line.message for line in logs.read(entry.root, entry.name)]

    def _story(self, addresses: list[str], since: float) -> str:
        """What the functions did since `since`: their invocations and the tail of their logs."""
        lines: list[str] = []
        for address in addresses:
            calls = self.invocations(address, since)
            lines.append(f"  {address}: {len(calls)} invocation(s) since the trigger"
                         + ("" if calls else " (none ran: is the trigger's bucket/prefix/suffix/queue right?)"))
            lines += [f"    {c.trigger} status={c.status} request_id={c.request_id}"
                      + (f" error={c.error}" if c.error else "") for c in calls[-5:]]
            tail = self.logs(address)[-LOG_TAIL:]
            if tail:
                lines.append("    log (last lines):")
                lines += [f"      {line}" for line in tail]
        return "\n".join(lines)

    def _failed_since(self, addresses: list[str], since: float) -> Any:
        for address in addresses:
            for call in self.invocations(address, since):
                if call.status in ("error", "partial") or call.status.startswith("5"):
                    return address, call
        return None

    def wait_for(self, check: Callable[[], T], *, what: str, timeout: float = DEFAULT_TIMEOUT,
                 functions: list[str] | None = None, since: float | None = None) -> T:
        """Poll `check()` until it returns something truthy and return that.

        `functions` ("service.function", ...) are the ones expected to bring it about: when one of them fails
        (after `since`, default the last trigger fired here) the wait fails at once with its error.

        Raises:
            AssertionError: `timeout` seconds passed, or a watched function failed; the message names `what` and
                tells what the watched functions did meanwhile.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not these internals
        watched = list(functions or [])
        start = self._last_fired if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            failed = self._failed_since(watched, start)
            if failed is not None:
                address, call = failed
                raise AssertionError(f"while waiting for {what}: {address} failed ({call.trigger}, status "
                                     f"{call.status}): {call.error}\n{self._story(watched, start)}")
            if time.monotonic() > deadline:
                story = f"\n{self._story(watched, start)}" if watched else ""
                raise AssertionError(f"gave up after {timeout:g}s waiting for {what}{story}")
            time.sleep(POLL_SECONDS)

    def wait_for_invocation(self, address: str, *, timeout: float = DEFAULT_TIMEOUT, since: float | None = None,
                            allow_error: bool = False) -> Any:
        """Wait for the next finished invocation of the function `address` after `since` (default: the last
        trigger fired here) and return it (`status`, `error`, `detail`, `request_id`).

        Raises:
            AssertionError: none finished within `timeout` seconds, or (unless `allow_error`) it failed; the message
                holds its error and log.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not these internals
        start = self._last_fired if since is None else since
        call: Any = self.wait_for(lambda: next(iter(self.invocations(address, start)), None),
                             what=f"an invocation of {address}", timeout=timeout,
                             functions=[] if allow_error else [address], since=start)
        if not allow_error and (call.status in ("error", "partial") or call.status.startswith("5")):
            raise AssertionError(f"{address} failed ({call.trigger}): {call.error}\n{self._story([address], start)}")
        return call
