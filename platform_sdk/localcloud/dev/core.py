"""The core of `platform dev`, everything but HTTP: registry, worker pools, watcher, scheduler, invocation log.

Functions run in worker subprocesses (see `localcloud/invoker.py` for why); a re-apply is picked up on the next
invocation because every lookup re-reads a registry entry whose file changed, and a name not found makes the
gateway look for cloud roots created or removed since it started (a `RootFinder`, see `roots.py`). Events
(object-created, schedules) are delivered asynchronously on a small thread pool, like the clouds' event
delivery. One log line per invocation: request id, function, trigger, status, duration.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platform_sdk import contract
from platform_sdk.localcloud import dbserver, logs
from platform_sdk.localcloud.dev.delivery import RETRY_BASE_SECONDS, QueueDelivery, message_json, retry_delay
from platform_sdk.localcloud.dev.identity import LocalIdentities
from platform_sdk.localcloud.dev.roots import RootFinder
from platform_sdk.localcloud.dev.scheduler import Scheduler
from platform_sdk.localcloud.dev.watcher import Watcher
from platform_sdk.localcloud.invoker import Invocation, InvocationError, Invoker, WorkerOptions
from platform_sdk.localcloud.registry import (
    BucketEntry,
    CdnRoute,
    CloudRoot,
    FunctionEntry,
    QueueTrigger,
    Registry,
    as_roots,
)
from platform_sdk.runtime.queues import QueuedMessage

log = logging.getLogger("platform.dev")
# Response headers the gateway sets itself (a function's values would be wrong after re-encoding).
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
RECENT_INVOCATIONS = 500
"""How many invocations `/_platform/invocations` keeps."""
SEND_ATTEMPTS = 3
"""Deliveries of one `function(name).send(payload)` before it is given up (logged), like Lambda's asynchronous
invocation (two retries)."""

Roots = Mapping[str, Path | str] | Iterable[CloudRoot | Path | str]
"""Local cloud roots: {cloud label: directory}, or directories / CloudRoots (see `registry.as_roots`)."""


def roots_for_env(project_root: Path, env: Any) -> dict[str, Path]:
    """Cloud label -> local cloud root, for every cloud the environment places on the local cloud."""
    from platform_sdk.localcloud.roots import local_root

    labels = {env.default_cloud, *env.placement.values()}
    return {label: local_root(project_root, env, label) for label in sorted(labels) if env.target_of(label) == "local"}


def new_request_id() -> str:
    return uuid.uuid4().hex


def _json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, byte for byte what the HTTP layer's JSONResponse would send."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def start_database_servers(root: Path) -> None:
    """Start the root's database servers if they were stopped (a reboot): functions connect to them on demand.
    A server that cannot start is logged, not fatal: the functions using it fail with the driver's error."""
    for engine in dbserver.ENGINES:
        server = dbserver.Server(root, engine)
        if server.initialised:
            try:
                server.ensure_running()
            except dbserver.ServerError as err:
                log.warning("the local %s server of %s did not start: %s", dbserver.label(engine), root, err)


class GatewayCore:
    """Everything but HTTP: registry, workers, bucket watcher, scheduler, invocation log.

    `roots` are created at start; with a `finder` the served roots are then the ones it finds on disk, looked
    for again whenever a name is not found, the routes are listed, or the watcher sees a root come or go or the
    environment file the finder follows change (`refresh_roots`). Without one, `roots` are served as given for the
    gateway's life.
    """

    def __init__(self, roots: Roots, *, base_url: str | None = None, options: WorkerOptions | None = None,
                 watch: bool = True, schedules: bool = True, prewarm: bool = False, queues: bool = True,
                 retry_base: float = RETRY_BASE_SECONDS, finder: RootFinder | None = None) -> None:
        self.roots = as_roots(roots)
        self.finder = finder
        self.identities = LocalIdentities()
        self.retry_base = retry_base
        self.prewarm = prewarm
        self.registry = Registry(self.roots)
        self.options = options or WorkerOptions()
        self.base_url = base_url
        if base_url:
            self.options.extra_env.setdefault(contract.LOCAL_GATEWAY, base_url)
        if self.options.per_function_env is None:
            self.options.per_function_env = lambda entry: {contract.LOCAL_IDENTITY: self.identities.mint(entry.name)}
        self.invoker = Invoker(self.options)
        self.queues_enabled = queues
        self.delivery = QueueDelivery(self.registry, self._deliver_messages, self._submit, retry_base)
        self.watch_enabled = watch
        self.schedules_enabled = schedules
        self.scheduler = Scheduler(self._fire_schedule)
        self.watcher = Watcher(self.registry, self.roots, self.sync_registry, self._deliver_object, finder=finder,
                               on_roots_change=self.refresh_roots)
        self.invocations: collections.deque[Invocation] = collections.deque(maxlen=RECENT_INVOCATIONS)
        self._events = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="platform-event")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._generations: dict[str, tuple[str, str, Any]] = {}
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._last_results: dict[str, Any] = {}
        self._started = False
        self._lock = threading.Lock()
        self._roots_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for root in self.roots:
            root.path.mkdir(parents=True, exist_ok=True)  # watch it even before the first apply
        if self.finder is not None:
            self._set_roots(self.finder.find())
        for root in self.roots:
            start_database_servers(root.path)
        self.sync_registry(initial=True)
        if self.watch_enabled:
            self._spawn(lambda: self.watcher.run(self._stop), "platform-watch")
        if self.schedules_enabled:
            self._spawn(lambda: self.scheduler.run(self._stop), "platform-scheduler")
        if self.queues_enabled:
            self._spawn(lambda: self.delivery.run(self._stop), "platform-queues")

    def wait_watching(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until the watcher sees new objects; False if it did not start (tests:
        an object written before that fires nothing, as on a cloud before its notification is configured)."""
        return self.watch_enabled and self.watcher.ready.wait(timeout)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.scheduler.wake()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._events.shutdown(wait=True, cancel_futures=True)
        self.invoker.close()

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run in the event pool (events are asynchronous, like the clouds' event delivery)."""
        try:
            future = self._events.submit(fn, *args)
        except RuntimeError:
            return  # shutting down
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("event delivery failed: %r", future.exception())

    def wait_idle(self) -> None:
        """Wait until every event submitted so far has been delivered (tests; shutdown)."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            concurrent.futures.wait(pending)

    # -- roots ----------------------------------------------------------------------------------------------
    def _set_roots(self, roots: list[CloudRoot]) -> tuple[list[CloudRoot], list[CloudRoot]]:
        """Serve `roots` from now on; returns (added, removed)."""
        with self._roots_lock:
            before, self.roots = self.roots, roots
            self.registry.roots = roots
        return [r for r in roots if r not in before], [r for r in before if r not in roots]

    def refresh_roots(self) -> bool:
        """Look for roots created or removed since the last look (one directory listing; nothing without a
        finder or before `start`, which creates the given roots); True if they changed. A new root's database
        servers are started, then the registry is synced (functions logged as deployed/removed, schedules moved
        to the cloud that now has the function)."""
        if self.finder is None or not self._started:
            return False
        found = self.finder.find()
        if found == self.roots:
            return False
        added, removed = self._set_roots(found)
        if not added and not removed:
            return False  # another thread applied the same change
        for root in added:
            log.info("cloud root added: %s %s", root.label, root.path)
            start_database_servers(root.path)
        for root in removed:
            log.info("cloud root removed: %s %s", root.label, root.path)
        self.sync_registry()
        return True

    def function(self, name: str) -> FunctionEntry | None:
        """A function by physical name; not found, the roots are looked for again first (a new root)."""
        entry = self.registry.function(name)
        if entry is None and self.refresh_roots():
            entry = self.registry.function(name)
        return entry

    def route(self, name: str) -> CdnRoute | None:
        """A CDN route by name, like `function`."""
        route = self.registry.route(name)
        if route is None and self.refresh_roots():
            route = self.registry.route(name)
        return route

    def bucket(self, name: str, prefer: str | None = None) -> BucketEntry | None:
        """A bucket by physical name (`prefer`: the cloud label looked in first), like `function`."""
        bucket = self.registry.bucket(name, prefer=prefer)
        if bucket is None and self.refresh_roots():
            bucket = self.registry.bucket(name, prefer=prefer)
        return bucket

    # -- registry changes -----------------------------------------------------------------------------------
    def sync_registry(self, initial: bool = False) -> list[FunctionEntry]:
        """Rescan functions: log what was (re)deployed or removed, retire stale workers, reschedule."""
        functions = self.registry.functions()
        current = {f.name: f for f in functions}
        with self._lock:
            previous, self._generations = self._generations, {f.name: f.generation for f in functions}
        for name, entry in current.items():
            changed = name not in previous or previous[name] != entry.generation
            if not initial and name not in previous:
                log.info("deployed fn=%s code %s", name, entry.code_hash[:12])
            elif not initial and changed:
                log.info("reload fn=%s code %s -> %s (updated %s)", name, previous[name][0][:12],
                         entry.code_hash[:12], entry.updated_at)
                self.invoker.pool(entry)  # the new generation's pool now; idle old workers stop
            if self.prewarm and changed:
                self._submit(self.invoker.prewarm, entry)
        for name in previous.keys() - current.keys():
            log.info("removed fn=%s", name)
            self.invoker.forget(name)
        self.scheduler.update(functions)
        return functions

    # -- invocation -----------------------------------------------------------------------------------------
    def record(self, invocation: Invocation, entry: FunctionEntry | None = None) -> Invocation:
        """Log one invocation (the gateway's output, and the function's local log when `entry` is known)."""
        self.invocations.append(invocation)
        level = logging.ERROR if invocation.error else logging.INFO
        summary = (f"trigger={invocation.trigger} status={invocation.status} duration_ms={invocation.duration_ms:.1f}"
                   + (f" {invocation.detail}" if invocation.detail else "")
                   + (f" error={invocation.error!r}" if invocation.error else ""))
        log.log(level, "request_id=%s fn=%s %s", invocation.request_id, invocation.function, summary)
        if entry is not None:
            try:
                logs.write(entry.root, entry.name, f"invocation {summary}", invocation.request_id, kind="invocation")
            except OSError as exc:
                log.warning("fn=%s cannot write its local log: %s", entry.name, exc)
        return invocation

    def _call(self, entry: FunctionEntry, event: dict[str, Any]) -> tuple[dict[str, Any] | None, str,
                                                                           InvocationError | None]:
        """(result, " cold_start=1" or "", error): exactly one of result and error is set."""
        try:
            result, cold = self.invoker.invoke(entry, event)
            return result, " cold_start=1" if cold else "", None
        except InvocationError as exc:
            if exc.detail and exc.kind != "handler":  # the runtime already logged a handler's traceback
                log.error("fn=%s request_id=%s %s failed:\n%s", entry.name, event.get("request_id"), exc.kind,
                          exc.detail.rstrip())
            return None, "", exc

    def invoke_http(self, entry: FunctionEntry, method: str, path: str, query: dict[str, str],
                    headers: dict[str, str], body: bytes, trigger: str = "http",
                    ) -> tuple[int, dict[str, str], bytes, str]:
        """Run an HTTP event through the function; worker failures become 502 (504 on timeout)."""
        request_id = new_request_id()
        event = {"type": "http", "method": method, "path": path or "/", "query": query, "headers": headers,
                 "body_base64": base64.b64encode(body).decode("ascii"), "request_id": request_id}
        started = time.perf_counter()
        result, cold, error = self._call(entry, event)
        status, out_headers, data = 502, {"content-type": "application/json"}, b""
        if error is not None:
            status = 504 if error.kind == "timeout" else 502
            data = _json_bytes({"error": str(error), "request_id": request_id})
        else:
            try:
                assert isinstance(result, dict)
                status = int(result["status"])
                data = base64.b64decode(result.get("body_base64") or "", validate=True)
                out_headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()
                               if str(k).lower() not in HOP_HEADERS}
            except (AssertionError, KeyError, TypeError, ValueError, AttributeError):
                status, out_headers = 502, {"content-type": "application/json"}
                error = InvocationError("handler", "function returned no valid HTTP response "
                                                   '({"status", "headers", "body_base64"})')
                data = _json_bytes({"error": str(error), "request_id": request_id})
        out_headers["x-request-id"] = request_id
        self.record(Invocation(request_id, entry.name, trigger, str(status), (time.perf_counter() - started) * 1000,
                               f"method={method} path={path or '/'}{cold}", str(error) if error else None), entry)
        return status, out_headers, data, request_id

    def run_event(self, entry: FunctionEntry, trigger: str, event: dict[str, Any], detail: str) -> Invocation:
        """Run an object-created or schedule event; the result says ok, ignored or error."""
        request_id = new_request_id()
        started = time.perf_counter()
        result, cold, error = self._call(entry, {**event, "request_id": request_id})
        status = "error" if error else ("ignored" if result and result.get("handled") == 0 else "ok")
        if trigger == "queue" and result is not None:
            self._last_results[request_id] = result
            if result.get("failed"):
                status = "partial" if len(result["failed"]) < len(event.get("messages") or []) else "error"
        return self.record(Invocation(request_id, entry.name, trigger, status,
                                      (time.perf_counter() - started) * 1000, detail + cold,
                                      str(error) if error else None), entry)

    def run_schedule(self, entry: FunctionEntry, cron: str, when: datetime) -> Invocation:
        event = {"type": "schedule", "cron": cron, "time": when.astimezone(UTC).isoformat()}
        return self.run_event(entry, "schedule", event, f"cron={cron!r}")

    def _fire_schedule(self, entry: FunctionEntry, cron: str, when: datetime) -> None:
        current = self.function(entry.name)  # where it is now: a move or a re-apply may have changed it
        if current is None or cron not in current.schedules:
            log.info("not fired: fn=%s cron=%r is no longer deployed", entry.name, cron)
            return
        self._submit(self.run_schedule, current, cron, when)

    def _deliver_object(self, entry: FunctionEntry, event: dict[str, Any], detail: str) -> None:
        self._submit(self.run_event, entry, "object_created", event, detail)

    # -- queues ---------------------------------------------------------------------------------------------
    def _deliver_messages(self, entry: FunctionEntry, trigger: QueueTrigger,
                          messages: list[QueuedMessage]) -> list[str] | None:
        """One batch through the function: the ids its handler failed, None when the call itself failed."""
        current = self.registry.function(entry.name) or entry
        event = {"type": "queue", "queue": trigger.queue, "messages": [message_json(m) for m in messages]}
        ids = ",".join(m.id for m in messages)
        invocation = self.run_event(current, "queue", event, f"queue={trigger.queue} messages={ids} "
                                    f"attempt={max(m.attempt for m in messages)}")
        result = self._last_results.pop(invocation.request_id, None)
        if not isinstance(result, dict):
            return None  # the call itself failed (crash, timeout): the whole batch comes back
        failed = result.get("failed")
        return [str(f) for f in failed] if isinstance(failed, list) else []

    # -- function calls -------------------------------------------------------------------------------------
    def authorize(self, callee: FunctionEntry, headers: dict[str, str]) -> tuple[int, str]:
        """(200, caller) when the request carries the identity of a function granted `invokes` on `callee`;
        (401, why) without a valid identity; (403, why) for a function not granted."""
        caller = self.identities.caller({k.lower(): v for k, v in headers.items()})
        if caller is None:
            return 401, (f"function {callee.name} admits only granted functions: no valid identity token "
                         "(Authorization: Bearer <PLATFORM_LOCAL_IDENTITY>)")
        if caller not in callee.invokers:
            return 403, (f"function {caller} is not granted invokes on {callee.name} "
                         f"(granted: {', '.join(callee.invokers) or 'none'})")
        return 200, caller

    def caller_address(self, caller: str) -> str:
        """What the callee's handler sees as `call.caller`: `<service>.<function>`, as on both clouds (their
        runtimes send it from the caller's PLATFORM_SERVICE/PLATFORM_FUNCTION), not the caller's physical name."""
        found = self.registry.function(caller)
        if found is None:
            return caller
        parts = (found.environment.get(contract.SERVICE, ""), found.environment.get(contract.FUNCTION, ""))
        return ".".join(p for p in parts if p) or caller

    def invoke_call(self, entry: FunctionEntry, payload: Any, caller: str, call_id: str | None = None
                    ) -> tuple[int, dict[str, Any]]:
        """Run a call synchronously: (200, {"result": ...}), or (502/504, {"error": ...})."""
        request_id = new_request_id()
        call_id = call_id or request_id
        event = {"type": "call", "payload": payload, "caller": self.caller_address(caller), "call_id": call_id,
                 "request_id": request_id}
        started = time.perf_counter()
        result, cold, error = self._call(entry, event)
        status = "ok" if error is None else "error"
        self.record(Invocation(request_id, entry.name, "call", status, (time.perf_counter() - started) * 1000,
                               f"caller={caller} call_id={call_id}{cold}", str(error) if error else None))
        if error is not None:
            return (504 if error.kind == "timeout" else 502), {"error": str(error), "request_id": request_id}
        return 200, {"result": (result or {}).get("result"), "call_id": call_id, "request_id": request_id}

    def send_call(self, entry: FunctionEntry, payload: Any, caller: str) -> str:
        """Accept a call to run later (retried up to SEND_ATTEMPTS times); returns its call id."""
        call_id = new_request_id()

        def attempt(number: int) -> None:
            current = self.registry.function(entry.name) or entry
            status, _ = self.invoke_call(current, payload, caller, call_id)
            if status != 200 and number < SEND_ATTEMPTS:
                time.sleep(retry_delay(number, self.retry_base))
                self._submit(attempt, number + 1)
            elif status != 200:
                log.error("fn=%s call_id=%s from %s failed %d times; given up", entry.name, call_id, caller, number)

        self._submit(attempt, 1)
        return call_id

    # -- listing --------------------------------------------------------------------------------------------
    def routes(self, base_url: str) -> dict[str, Any]:
        self.refresh_roots()
        base = base_url.rstrip("/")
        functions = []
        for entry in self.registry.functions():
            functions.append({
                "name": entry.name, "cloud": entry.cloud,
                "url": f"{base}/fn/{entry.name}" if entry.http and not entry.http.get("via_cdn") else None,
                "registry_url": entry.url, "http": entry.http, "schedules": list(entry.schedules),
                "object_created": [vars(t) for t in entry.object_created],
                "queues": [{"queue": q.queue, "batch_size": q.batch_size} for q in entry.queues],
                "runtime": entry.runtime,
                "code_hash": entry.code_hash, "updated_at": entry.updated_at, "code_dir": str(entry.code_dir),
            })
        cdn = [{"name": r.name, "cloud": r.cloud, "url": f"{base}/cdn/{r.name}/",
                "origin": {"kind": r.origin_kind, "name": r.origin_name}, "domain": r.domain,
                "paths": [{"pattern": f"{prefix}*", "kind": kind, "name": origin} for prefix, kind, origin in r.paths]}
               for r in self.registry.routes()]
        buckets = [{"name": b.name, "cloud": b.cloud, "url": f"{base}/bucket/{b.name}/", "path": str(b.path),
                    "triggers": [f.name for f in self.registry.functions()
                                 if any(t.bucket == b.name for t in f.object_created)]}
                   for b in self.registry.buckets()]
        return {"gateway": base, "roots": [{"cloud": r.label, "path": str(r.path)} for r in self.roots],
                "functions": functions, "cdn": cdn, "buckets": buckets, "schedules": self.scheduler.schedules()}
