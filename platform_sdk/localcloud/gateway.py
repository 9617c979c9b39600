"""The local gateway behind `platform dev`: serves what the local cloud provider deployed, on 127.0.0.1.

- `/fn/<function>/...`       a function's HTTP trigger (the URL the provider put in the registry)
- `/cdn/<route>/<path>`      a CDN route: a bucket origin serves objects (index.html for directories),
                             a function origin is proxied to the function
- `/bucket/<bucket>/<key>`   GET/HEAD of one object (what local signed URLs point at)
- object-created events      fired when an object lands in a watched bucket (prefix/suffix filters applied)
- schedules                  fired on their cron (UTC), or now via `POST /_platform/schedule/<function>`
- `/_platform/routes`        everything served, as JSON; `/_platform/invocations` the recent invocations

Functions run in worker subprocesses (see `invoker.py` for why); a re-apply is picked up on the next
invocation because every lookup re-reads a registry entry whose file changed. One log line per invocation:
request id, function, trigger, status, duration.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import contextlib
import logging
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from platform_sdk.localcloud.invoker import Invocation, InvocationError, Invoker, WorkerOptions
from platform_sdk.localcloud.registry import (
    BucketEntry,
    CloudRoot,
    FunctionEntry,
    Registry,
    as_roots,
    content_type,
    is_temp_key,
    safe_object_path,
)

log = logging.getLogger("platform.dev")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
READ_METHODS = ("GET", "HEAD")
# Response headers the gateway sets itself (a function's values would be wrong after re-encoding).
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
RECENT_INVOCATIONS = 500
SCHEDULER_MAX_SLEEP = 30.0

Roots = Mapping[str, Path | str] | Iterable[CloudRoot | Path | str]


def roots_for_env(project_root: Path, env: Any) -> dict[str, Path]:
    """Cloud label -> local cloud root, for every cloud the environment places on the local cloud."""
    from platform_sdk.localcloud.roots import local_root

    labels = {env.default_cloud, *env.placement.values()}
    return {label: local_root(project_root, env, label) for label in sorted(labels) if env.target_of(label) == "local"}


def new_request_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------------------------- scheduler

class Scheduler:
    """Fires every function schedule on its cron (UTC). `update` replaces the table after a re-apply."""

    def __init__(self, fire: Callable[[FunctionEntry, str, datetime], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.fire = fire
        self.clock = clock
        self._table: dict[tuple[str, str], tuple[FunctionEntry, datetime]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    @staticmethod
    def next_time(cron: str, after: datetime) -> datetime:
        from croniter import croniter

        return croniter(cron, after).get_next(datetime)

    def update(self, functions: Iterable[FunctionEntry]) -> None:
        now = self.clock()
        with self._lock:
            table: dict[tuple[str, str], tuple[FunctionEntry, datetime]] = {}
            for entry in functions:
                for cron in entry.schedules:
                    key = (entry.name, cron)
                    if key in self._table:
                        table[key] = (entry, self._table[key][1])
                        continue
                    try:
                        table[key] = (entry, self.next_time(cron, now))
                    except (ValueError, KeyError) as exc:
                        log.error("function %s: cannot schedule %r: %s", entry.name, cron, exc)
            self._table = table
        self._wake.set()

    def schedules(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"function": name, "cron": cron, "next": when.isoformat()}
                    for (name, cron), (_, when) in sorted(self._table.items())]

    def due(self) -> tuple[list[tuple[FunctionEntry, str, datetime]], float]:
        """Schedules due now (their next run moves on) and how long to sleep until the next one."""
        now = self.clock()
        fired: list[tuple[FunctionEntry, str, datetime]] = []
        with self._lock:
            for key, (entry, when) in list(self._table.items()):
                if when <= now:
                    fired.append((entry, key[1], when))
                    # after a long sleep (laptop suspended) skip the missed runs rather than replay them
                    self._table[key] = (entry, self.next_time(key[1], max(when, now)))
            upcoming = [when for _, when in self._table.values()]
        sleep = min([(w - now).total_seconds() for w in upcoming] + [SCHEDULER_MAX_SLEEP])
        return fired, max(sleep, 0.05)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            fired, sleep = self.due()
            for entry, cron, when in fired:
                self.fire(entry, cron, when)
            self._wake.wait(sleep)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()


# ------------------------------------------------------------------------------------------------- core

class GatewayCore:
    """Everything but HTTP: registry, workers, bucket watcher, scheduler, invocation log."""

    def __init__(self, roots: Roots, *, base_url: str | None = None, options: WorkerOptions | None = None,
                 watch: bool = True, schedules: bool = True, prewarm: bool = False) -> None:
        self.roots = as_roots(roots)
        self.prewarm = prewarm
        self.registry = Registry(self.roots)
        self.options = options or WorkerOptions()
        self.base_url = base_url
        if base_url:
            self.options.extra_env.setdefault("PLATFORM_LOCAL_GATEWAY", base_url)
        self.invoker = Invoker(self.options)
        self.watch_enabled = watch
        self.schedules_enabled = schedules
        self.scheduler = Scheduler(self._fire_schedule)
        self.invocations: collections.deque[Invocation] = collections.deque(maxlen=RECENT_INVOCATIONS)
        self._events = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="platform-event")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._generations: dict[str, tuple[str, str, Any]] = {}
        self._seen_objects: dict[Path, tuple[int, int, int]] = {}
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for root in self.roots:
            root.path.mkdir(parents=True, exist_ok=True)  # watch it even before the first apply
        self.sync_registry(initial=True)
        if self.watch_enabled:
            self._spawn(self._watch, "platform-watch")
        if self.schedules_enabled:
            self._spawn(lambda: self.scheduler.run(self._stop), "platform-scheduler")

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
    def record(self, invocation: Invocation) -> Invocation:
        self.invocations.append(invocation)
        level = logging.ERROR if invocation.error else logging.INFO
        log.log(level, "request_id=%s fn=%s trigger=%s status=%s duration_ms=%.1f%s%s", invocation.request_id,
                invocation.function, invocation.trigger, invocation.status, invocation.duration_ms,
                f" {invocation.detail}" if invocation.detail else "",
                f" error={invocation.error!r}" if invocation.error else "")
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
            data = JSONResponse({"error": str(error), "request_id": request_id}).body
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
                data = JSONResponse({"error": str(error), "request_id": request_id}).body
        out_headers["x-request-id"] = request_id
        self.record(Invocation(request_id, entry.name, trigger, str(status), (time.perf_counter() - started) * 1000,
                               f"method={method} path={path or '/'}{cold}", str(error) if error else None))
        return status, out_headers, data, request_id

    def run_event(self, entry: FunctionEntry, trigger: str, event: dict[str, Any], detail: str) -> Invocation:
        """Run an object-created or schedule event; the result says ok, ignored or error."""
        request_id = new_request_id()
        started = time.perf_counter()
        result, cold, error = self._call(entry, {**event, "request_id": request_id})
        status = "error" if error else ("ignored" if result and result.get("handled") == 0 else "ok")
        return self.record(Invocation(request_id, entry.name, trigger, status,
                                      (time.perf_counter() - started) * 1000, detail + cold,
                                      str(error) if error else None))

    def run_schedule(self, entry: FunctionEntry, cron: str, when: datetime) -> Invocation:
        event = {"type": "schedule", "cron": cron, "time": when.astimezone(UTC).isoformat()}
        return self.run_event(entry, "schedule", event, f"cron={cron!r}")

    def _fire_schedule(self, entry: FunctionEntry, cron: str, when: datetime) -> None:
        current = self.registry.function(entry.name) or entry
        self._submit(self.run_schedule, current, cron, when)

    # -- watching -------------------------------------------------------------------------------------------
    def _watch_filter(self, change: Any, path: str) -> bool:
        located = self.registry.locate(Path(path))
        if located is None:
            return False
        _, area, parts = located
        if area == "buckets":
            return not parts[0].startswith(".")
        if area == "functions":
            return len(parts) == 2 and parts[1] == "function.json"
        return area == "cdn"

    def _watch(self) -> None:
        import watchfiles

        paths = [str(root.path) for root in self.roots]
        try:
            for changes in watchfiles.watch(*paths, watch_filter=self._watch_filter, stop_event=self._stop,
                                            debounce=1600, step=50, rust_timeout=500, yield_on_timeout=True,
                                            raise_interrupt=False):
                if changes:
                    self.handle_changes(changes)
        except Exception:  # noqa: BLE001 - a watcher crash must be loud but not kill the gateway
            log.exception("file watcher stopped; object-created events and reload logs are off")

    def handle_changes(self, changes: Iterable[tuple[Any, str]]) -> None:
        """One batch of file changes: registry updates first, then object-created events."""
        import watchfiles

        registry_changed = False
        candidates: dict[Path, tuple[BucketEntry, str]] = {}
        for change, raw in changes:
            path = Path(raw)
            located = self.registry.locate(path)
            if located is None:
                continue
            root, area, parts = located
            if area != "buckets":
                registry_changed = True
                continue
            bucket = self.registry.bucket(parts[0], prefer=root.label)
            if bucket is None or len(parts) < 2:
                continue
            if change == watchfiles.Change.deleted:
                self._seen_objects.pop(path, None)
                continue
            if path.is_dir():
                # files created in a brand-new directory before the watch on it was set up: scan for them
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    candidates[file] = (bucket, file.relative_to(bucket.path).as_posix())
            else:
                candidates[path] = (bucket, "/".join(parts[1:]))
        if registry_changed:
            self.sync_registry()
        for path, (bucket, key) in sorted(candidates.items()):
            self._object_landed(bucket, key, path)

    def _object_landed(self, bucket: BucketEntry, key: str, path: Path) -> None:
        if is_temp_key(key):
            return
        try:
            st = path.stat()
        except OSError:
            return  # gone again (a temp file renamed away)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if not path.is_file() or self._seen_objects.get(path) == stamp:
            return  # the same write reported twice (added + modified)
        self._seen_objects[path] = stamp
        for entry in self.registry.functions():
            if entry.triggered_by(bucket.name, key):
                event = {"type": "object_created", "bucket": bucket.name, "key": key, "size": st.st_size,
                         "content_type": content_type(path)}
                self._submit(self.run_event, entry, "object_created", event, f"bucket={bucket.name} key={key!r}")

    # -- listing --------------------------------------------------------------------------------------------
    def routes(self, base_url: str) -> dict[str, Any]:
        base = base_url.rstrip("/")
        functions = []
        for entry in self.registry.functions():
            functions.append({
                "name": entry.name, "cloud": entry.cloud, "url": f"{base}/fn/{entry.name}" if entry.http else None,
                "registry_url": entry.url, "http": entry.http, "schedules": list(entry.schedules),
                "object_created": [vars(t) for t in entry.object_created], "runtime": entry.runtime,
                "code_hash": entry.code_hash, "updated_at": entry.updated_at, "code_dir": str(entry.code_dir),
            })
        cdn = [{"name": r.name, "cloud": r.cloud, "url": f"{base}/cdn/{r.name}/",
                "origin": {"kind": r.origin_kind, "name": r.origin_name}, "domain": r.domain}
               for r in self.registry.routes()]
        buckets = [{"name": b.name, "cloud": b.cloud, "url": f"{base}/bucket/{b.name}/", "path": str(b.path),
                    "triggers": [f.name for f in self.registry.functions()
                                 if any(t.bucket == b.name for t in f.object_created)]}
                   for b in self.registry.buckets()]
        return {"gateway": base, "roots": [{"cloud": r.label, "path": str(r.path)} for r in self.roots],
                "functions": functions, "cdn": cdn, "buckets": buckets, "schedules": self.scheduler.schedules()}


# ------------------------------------------------------------------------------------------------- HTTP

def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _headers(request: Request) -> dict[str, str]:
    merged: dict[str, str] = {}
    for key, value in request.headers.items():
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


def _serve_object(request: Request, bucket: BucketEntry, key: str, index: bool) -> Response:
    """GET/HEAD of one object; `index` serves `index.html` for directory paths (CDN semantics)."""
    if request.method not in READ_METHODS:
        return _error(405, "read-only: GET or HEAD")
    if index and (key == "" or key.endswith("/")):
        key += "index.html"
    path = safe_object_path(bucket.path, key)
    if path is not None and index and path.is_dir():
        path = safe_object_path(bucket.path, f"{key}/index.html")
    if path is None or not path.is_file():
        return _error(404, f"no object {key!r} in bucket {bucket.name}")
    headers = {}
    origin = request.headers.get("origin")
    if origin and (origin in bucket.cors_origins or "*" in bucket.cors_origins):
        headers["access-control-allow-origin"] = origin
    return FileResponse(path, media_type=content_type(path), headers=headers)


def create_gateway(roots: Roots, *, base_url: str | None = None, options: WorkerOptions | None = None,
                   watch: bool = True, schedules: bool = True, prewarm: bool = False) -> Starlette:
    """The gateway as a Starlette app; background work (watcher, scheduler) runs during its lifespan.

    `base_url` is where it will be reachable (functions get it as PLATFORM_LOCAL_GATEWAY for signed URLs);
    `prewarm` starts one worker per function at startup and after each re-apply.
    """
    core = GatewayCore(roots, base_url=base_url, options=options, watch=watch, schedules=schedules,
                       prewarm=prewarm)

    async def fn_route(request: Request) -> Response:
        name = request.path_params["name"]
        entry = core.registry.function(name)
        if entry is None:
            return _error(404, f"no function named {name!r} (deployed? see /_platform/routes)")
        if entry.http is None:
            return _error(404, f"function {name} has no HTTP trigger")
        path = request.url.path[len(f"/fn/{name}"):] or "/"
        return await _proxy(request, entry, path, "http")

    async def _proxy(request: Request, entry: FunctionEntry, path: str, trigger: str) -> Response:
        body = await request.body()
        status, headers, data, _ = await run_in_threadpool(
            core.invoke_http, entry, request.method, path, dict(request.query_params), _headers(request), body,
            trigger)
        return Response(data if request.method != "HEAD" else b"", status_code=status, headers=headers)

    async def cdn_route(request: Request) -> Response:
        name = request.path_params["name"]
        route = core.registry.route(name)
        if route is None:
            return _error(404, f"no CDN route named {name!r}")
        rest = request.url.path[len(f"/cdn/{name}"):]
        if route.origin_kind == "function":
            entry = core.registry.function(route.origin_name)
            if entry is None:
                return _error(502, f"CDN route {name}: origin function {route.origin_name} is not deployed")
            return await _proxy(request, entry, rest or "/", "cdn")
        bucket = core.registry.bucket(route.origin_name, prefer=route.cloud)
        if bucket is None:
            return _error(502, f"CDN route {name}: origin bucket {route.origin_name} does not exist")
        if not rest:  # relative links in index.html need the trailing slash
            return RedirectResponse(request.url.replace(path=f"/cdn/{name}/"), status_code=307)
        response = _serve_object(request, bucket, rest.lstrip("/"), index=True)
        log.info("cdn route=%s path=%s status=%d", name, rest or "/", response.status_code)
        return response

    async def bucket_route(request: Request) -> Response:
        name = request.path_params["name"]
        bucket = core.registry.bucket(name)
        if bucket is None:
            return _error(404, f"no bucket named {name!r}")
        return _serve_object(request, bucket, request.path_params.get("key", ""), index=False)

    async def routes(request: Request) -> Response:
        base = core.base_url or str(request.base_url)
        return JSONResponse(await run_in_threadpool(core.routes, base))

    async def invocations(request: Request) -> Response:
        return JSONResponse([i.to_json() for i in list(core.invocations)])

    async def schedule(request: Request) -> Response:
        name = request.path_params["name"]
        entry = core.registry.function(name)
        if entry is None:
            return _error(404, f"no function named {name!r}")
        if not entry.schedules:
            return _error(409, f"function {name} has no schedule trigger")
        cron = request.query_params.get("cron") or entry.schedules[0]
        if cron not in entry.schedules:
            return _error(400, f"function {name} has no schedule {cron!r} (it has: {', '.join(entry.schedules)})")
        invocation = await run_in_threadpool(core.run_schedule, entry, cron, datetime.now(UTC))
        return JSONResponse(invocation.to_json(), status_code=500 if invocation.status == "error" else 200)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(core.start)
        try:
            yield
        finally:
            await run_in_threadpool(core.stop)

    app = Starlette(routes=[
        Route("/_platform/routes", routes, methods=["GET"]),
        Route("/_platform/invocations", invocations, methods=["GET"]),
        Route("/_platform/schedule/{name}", schedule, methods=["POST"]),
        Route("/fn/{name}", fn_route, methods=ALL_METHODS),
        Route("/fn/{name}/{path:path}", fn_route, methods=ALL_METHODS),
        Route("/cdn/{name}", cdn_route, methods=ALL_METHODS),
        Route("/cdn/{name}/{path:path}", cdn_route, methods=ALL_METHODS),
        Route("/bucket/{name}/{key:path}", bucket_route, methods=ALL_METHODS),
    ], lifespan=lifespan)
    app.state.core = core
    return app


# ------------------------------------------------------------------------------------------ uvicorn

def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready TCP socket (port 0 = any free port): the real port is known before the app exists."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread:
    """Run any ASGI app with uvicorn on a bound socket, in a thread (tests) or in the foreground (CLI)."""

    def __init__(self, app: Any, sock: socket.socket, log_level: str = "warning") -> None:
        import uvicorn

        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on"))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        while not self.server.started:  # bounded by the thread: a failed startup ends it
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start")
            time.sleep(0.01)
        return self

    def run(self) -> None:
        """Serve in the foreground until Ctrl-C (uvicorn handles the signals)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self.sock.close()


class Gateway:
    """The gateway on 127.0.0.1:`port` (0 = any free port), started in a thread (tests) or in the foreground."""

    def __init__(self, roots: Roots, port: int = 0, host: str = "127.0.0.1", *, log_level: str = "warning",
                 options: WorkerOptions | None = None, watch: bool = True, schedules: bool = True,
                 prewarm: bool = False) -> None:
        self.roots = as_roots(roots)
        sock = bind(host, port)
        # the URL must be known before workers start: it is PLATFORM_LOCAL_GATEWAY (local signed URLs)
        base_url = f"http://{host}:{sock.getsockname()[1]}"
        self.app = create_gateway(self.roots, base_url=base_url, options=options, watch=watch, schedules=schedules,
                                  prewarm=prewarm)
        self.core: GatewayCore = self.app.state.core
        self.server = ServerThread(self.app, sock, log_level)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return int(self.server.port)

    def start(self) -> Gateway:
        self.server.start()
        return self

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
