"""`platform dev`: serve what `platform apply` deployed to the local cloud, on 127.0.0.1, until Ctrl-C."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from platform_sdk.commands._common import JsonOption, ProjectOption, console, err_console, load, user_errors
from platform_sdk.errors import PlatformError

PortOption = Annotated[int | None, typer.Option(
    "--port", min=0, max=65535, help="Port on 127.0.0.1 (default: the environment's clouds.local.gateway_port).")]
DevEnvOption = Annotated[str, typer.Option("--env", "-e", help="Environment name (a file envs/NAME.toml).")]


def _setup_logging() -> None:
    """One line per event on stderr, with a time; uvicorn and watchfiles stay quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    for name in ("platform.dev",):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    logging.getLogger("watchfiles").setLevel(logging.WARNING)


def _print_routes(routes: dict[str, Any], env_port: int, port: int) -> None:
    """What is served where: URLs printed whole (people copy them)."""
    functions, cdn, buckets = routes["functions"], routes["cdn"], routes["buckets"]
    if not functions and not cdn and not buckets:
        console.print("[yellow]Nothing deployed to the local cloud yet.[/] Run `platform apply --env local "
                      "--auto-approve` (in another terminal is fine: the gateway picks it up).")
    for fn in functions:
        triggers = []
        if fn["http"] is not None:
            triggers.append(fn["url"] or "http only through its CDN")
        triggers += [f"cron {c!r}" for c in fn["schedules"]]
        triggers += [f"on new objects in {t['bucket']}" + (f" {t['prefix']}*{t['suffix']}" if t["prefix"] or
                                                           t["suffix"] else "") for t in fn["object_created"]]
        triggers += [f"messages of queue {q['queue']} (batches of {q['batch_size']})" for q in fn["queues"]]
        console.print(f"  function  {escape(fn['name'])}  {escape(', '.join(triggers) or '(no triggers)')}  "
                      f"[dim]{fn['cloud']}[/]", highlight=False, soft_wrap=True)
    for route in cdn:
        default = f"{route['origin']['kind']} {route['origin']['name']}"
        origin = ", ".join([*(f"{p['pattern']} {p['kind']} {p['name']}" for p in route["paths"]), f"/* {default}"]) \
            if route["paths"] else default
        console.print(f"  cdn       {escape(route['name'])}  {escape(route['url'])}  [dim]-> {escape(origin)}[/]",
                      highlight=False, soft_wrap=True)
    for bucket in buckets:
        console.print(f"  bucket    {escape(bucket['name'])}  {escape(bucket['path'])}  [dim]{bucket['cloud']}[/]",
                      highlight=False, soft_wrap=True)
    if port != env_port:
        console.print(f"[yellow]note:[/] deployed URLs point at port {env_port} (clouds.local.gateway_port); this "
                      f"gateway listens on {port}.", highlight=False, soft_wrap=True)


@user_errors
def dev(env: DevEnvOption = "local", port: PortOption = None, project: ProjectOption = None,
        routes_only: Annotated[bool, typer.Option("--routes", help="Print what would be served and exit.")] = False,
        as_json: JsonOption = False) -> None:
    """Run the local cloud: function URLs, CDN routes, bucket events and schedules on 127.0.0.1 (Ctrl-C stops)."""
    from platform_sdk.envs import load_environment
    from platform_sdk.localcloud.dev import Gateway, GatewayCore, finder_for_env, roots_for_env
    from platform_sdk.providers.local.config import local_config

    proj, environment, _ = load(project, env)
    roots = roots_for_env(proj.root, environment)
    # roots an apply or a move creates later are served too, on clouds the environment file gives a local stand-in
    # after start as well (the finder reads the file again when it changed)
    finder = finder_for_env(proj.root, environment, load_environment)
    if not roots:
        raise PlatformError("nothing in this environment runs on the local cloud (no cloud has target local)",
                            key="--env", value=env, hint="use an environment like envs/local.toml")
    env_port = local_config(environment).gateway_port
    chosen = env_port if port is None else port
    if routes_only:
        core = GatewayCore(roots, finder=finder)
        listing = core.routes(f"http://127.0.0.1:{chosen}")
        if as_json:
            print(json.dumps(listing, indent=2))
        else:
            _print_routes(listing, env_port, chosen)
        return
    _setup_logging()
    try:
        gateway = Gateway(roots, chosen, prewarm=True, finder=finder)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise PlatformError(f"port {chosen} on 127.0.0.1 is already in use (another `platform dev`?)",
                                key="--port", value=chosen, hint="stop the other process or pass --port N") from None
        raise
    listing = gateway.core.routes(gateway.url)
    if as_json:
        print(json.dumps(listing, indent=2), flush=True)
    else:
        console.print(f"[bold]platform dev[/] environment [cyan]{escape(environment.name)}[/] on "
                      f"[bold]{gateway.url}[/]  [dim](routes: {gateway.url}/_platform/routes)[/]", highlight=False)
        _print_routes(listing, env_port, gateway.port)
    err_console.print("[dim]Serving; Ctrl-C stops. Re-apply in another terminal and the next request runs the "
                      "new code.[/]", soft_wrap=True)
    # uvicorn re-raises Ctrl-C after its graceful shutdown; for a dev server that is the normal way out
    with contextlib.suppress(KeyboardInterrupt):
        gateway.run()
    err_console.print("[dim]platform dev stopped; workers stopped.[/]")


COMMANDS = (dev,)
