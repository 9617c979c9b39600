"""The HTTP face of `platform dev`: a Starlette app over a `GatewayCore`, served on 127.0.0.1.

- `/fn/<function>/...`       a function's HTTP trigger (the URL the provider put in the registry); 403 for a
                             CDN's origin (`via_cdn`), which answers only through its CDN route, as on the clouds
- `/cdn/<route>/<path>`      a CDN route: the origin of the longest matching path prefix (else the default
                             origin) answers; a bucket serves objects (index.html for directories), a function
                             is called with the whole path
- `/bucket/<bucket>/<key>`   GET/HEAD of one object (what local signed URLs point at)
- `POST /_platform/schedule/<function>[?cron=...]`  run a schedule now
- `POST /_platform/invoke/<function>`, `/_platform/send/<function>`  a call from another local function, admitted
                             only with the identity token of a function granted `invokes` (401/403 otherwise)
- `/_platform/routes`        everything served, as JSON; `/_platform/invocations` the recent invocations
Background work (watcher, scheduler) runs during the app's lifespan.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from platform_sdk.localcloud.dev.core import GatewayCore, Roots
from platform_sdk.localcloud.dev.delivery import RETRY_BASE_SECONDS
from platform_sdk.localcloud.dev.roots import RootFinder
from platform_sdk.localcloud.invoker import WorkerOptions
from platform_sdk.localcloud.registry import BucketEntry, FunctionEntry, content_type, safe_object_path

log = logging.getLogger("platform.dev")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
READ_METHODS = ("GET", "HEAD")


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
                   watch: bool = True, schedules: bool = True, prewarm: bool = False, queues: bool = True,
                   retry_base: float = RETRY_BASE_SECONDS, finder: RootFinder | None = None) -> Starlette:
    """The gateway as a Starlette app; background work (watcher, scheduler) runs during its lifespan.

    `base_url` is where it will be reachable (functions get it as PLATFORM_LOCAL_GATEWAY for signed URLs);
    `prewarm` starts one worker per function at startup and after each re-apply; `finder` finds the roots
    created or removed while it runs (see `GatewayCore`).
    """
    core = GatewayCore(roots, base_url=base_url, options=options, watch=watch, schedules=schedules,
                       prewarm=prewarm, queues=queues, retry_base=retry_base, finder=finder)

    async def fn_route(request: Request) -> Response:
        name = request.path_params["name"]
        entry = core.function(name)
        if entry is None:
            return _error(404, f"no function named {name!r} (deployed? see /_platform/routes)")
        if entry.http is None:
            return _error(404, f"function {name} has no HTTP trigger")
        if entry.http.get("via_cdn"):  # like CloudFront's origin access control and GCP's load-balancer ingress
            routes = [r.name for r in core.registry.routes()
                      if ("function", name) in {(r.origin_kind, r.origin_name), *((k, n) for _, k, n in r.paths)}]
            return _error(403, f"function {name} is a CDN's origin and answers only through it: "
                               f"{', '.join(f'/cdn/{r}/' for r in routes) or 'its CDN route'}")
        if entry.iam_http:  # http(auth="iam"): only functions granted invokes, like AWS_IAM / Cloud Run invoker IAM
            status, why = core.authorize(entry, dict(request.headers))
            if status != 200:
                log.info("fn=%s http status=%d %s", name, status, why)
                headers = {"www-authenticate": 'Bearer realm="platform-local"'} if status == 401 else None
                return JSONResponse({"error": why}, status_code=status, headers=headers)
        path = request.url.path[len(f"/fn/{name}"):] or "/"
        return await _proxy(request, entry, path, "http")

    async def call_route(request: Request) -> Response:
        name, mode = request.path_params["name"], request.path_params["mode"]
        if mode not in ("invoke", "send"):
            return _error(404, f"no such platform endpoint: /_platform/{mode}")
        entry = core.function(name)
        if entry is None:
            return _error(404, f"no function named {name!r} (deployed? see /_platform/routes)")
        status, caller = core.authorize(entry, dict(request.headers))
        if status != 200:
            log.info("fn=%s %s status=%d %s", name, mode, status, caller)
            return _error(status, caller)
        try:
            payload = json.loads(await request.body() or b"null")
        except ValueError:
            return _error(400, "a call's body is its JSON payload")
        if mode == "send":
            call_id = await run_in_threadpool(core.send_call, entry, payload, caller)
            return JSONResponse({"call_id": call_id}, status_code=202)
        status, answer = await run_in_threadpool(core.invoke_call, entry, payload, caller)
        return JSONResponse(answer, status_code=status)

    async def _proxy(request: Request, entry: FunctionEntry, path: str, trigger: str) -> Response:
        body = await request.body()
        status, headers, data, _ = await run_in_threadpool(
            core.invoke_http, entry, request.method, path, dict(request.query_params), _headers(request), body,
            trigger)
        return Response(data if request.method != "HEAD" else b"", status_code=status, headers=headers)

    async def cdn_route(request: Request) -> Response:
        name = request.path_params["name"]
        route = core.route(name)
        if route is None:
            return _error(404, f"no CDN route named {name!r}")
        rest = request.url.path[len(f"/cdn/{name}"):]
        kind, origin = route.origin_for(rest or "/")
        if kind == "function":
            entry = core.function(origin)
            if entry is None:
                return _error(502, f"CDN route {name}: origin function {origin} is not deployed")
            return await _proxy(request, entry, rest or "/", "cdn")
        bucket = core.bucket(origin, prefer=route.cloud)
        if bucket is None:
            return _error(502, f"CDN route {name}: origin bucket {origin} does not exist")
        if not rest:  # relative links in index.html need the trailing slash
            return RedirectResponse(request.url.replace(path=f"/cdn/{name}/"), status_code=307)
        response = _serve_object(request, bucket, rest.lstrip("/"), index=True)
        log.info("cdn route=%s path=%s status=%d", name, rest or "/", response.status_code)
        return response

    async def bucket_route(request: Request) -> Response:
        name = request.path_params["name"]
        bucket = core.bucket(name)
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
        entry = core.function(name)
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
        Route("/_platform/{mode:str}/{name}", call_route, methods=["POST"]),
        Route("/fn/{name}", fn_route, methods=ALL_METHODS),
        Route("/fn/{name}/{path:path}", fn_route, methods=ALL_METHODS),
        Route("/cdn/{name}", cdn_route, methods=ALL_METHODS),
        Route("/cdn/{name}/{path:path}", cdn_route, methods=ALL_METHODS),
        Route("/bucket/{name}/{key:path}", bucket_route, methods=ALL_METHODS),
    ], lifespan=lifespan)
    app.state.core = core
    return app
