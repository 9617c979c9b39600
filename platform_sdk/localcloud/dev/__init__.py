"""`platform dev`: serves what the local cloud provider deployed, on 127.0.0.1, one module per idea.

- `core`: registry, worker pools, invocation log, event delivery (`GatewayCore`, `roots_for_env`);
- `scheduler`: cron schedules (`Scheduler`);
- `roots`: the cloud roots found on disk while it runs (`RootFinder`, `finder_for_env`);
- `watcher`: file changes -> registry reloads and object-created events (`Watcher`);
- `app`: the HTTP routes (`create_gateway`, a Starlette app);
- `server`: uvicorn on a pre-bound socket (`bind`, `ServerThread`, `Gateway`).
"""

from platform_sdk.localcloud.dev.app import create_gateway
from platform_sdk.localcloud.dev.core import GatewayCore, Roots, new_request_id, roots_for_env
from platform_sdk.localcloud.dev.roots import RootFinder, finder_for_env
from platform_sdk.localcloud.dev.scheduler import Scheduler
from platform_sdk.localcloud.dev.server import Gateway, ServerThread, bind
from platform_sdk.localcloud.dev.watcher import Watcher

__all__ = ["Gateway", "GatewayCore", "RootFinder", "Roots", "Scheduler", "ServerThread", "Watcher", "bind",
           "create_gateway", "finder_for_env", "new_request_id", "roots_for_env"]
