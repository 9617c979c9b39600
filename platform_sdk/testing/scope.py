"""Runtime clients as one deployed function sees them: `bucket`, `database`, `secret`, `queue`, `function`.

A deployed function finds its resources, and the limits of its grants, in its process environment
(`PLATFORM_GRANTS`, `PLATFORM_BUCKET_<NAME>`, ... written by the compilers, see platform_sdk/runtime/resources.py).
`FunctionView` runs the real runtime functions of `platform_sdk.runtime` with exactly the environment the local
cloud deployed for that function (its registry entry's `environment`, plus the gateway's URL and the function's
identity token, as `platform dev` gives its workers), swapped into `os.environ` for the duration of each call. So a
grant the function lacks raises `GrantError` with the same message the function would get, a read-only grant
cannot put, and a call to another function is admitted by the gateway only if the function was granted `invokes`.

Every method of a returned client also runs in that environment (the local function client reads its identity
token when it sends). Calls are serialised by one lock: the environment is process-wide.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from platform_sdk import runtime
from platform_sdk.runtime.database import Database
from platform_sdk.runtime.functions import GrantedFunction
from platform_sdk.runtime.queues import GrantedQueue
from platform_sdk.runtime.resources import GrantedBucket

PREFIX = "PLATFORM_"
_lock = threading.RLock()


@contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` holds exactly `environment`'s `PLATFORM_*` variables (and the test's other variables)
    while the block runs; everything is put back afterwards, even on errors."""
    with _lock:
        saved = {k: v for k, v in os.environ.items() if k.startswith(PREFIX)}
        try:
            for key in saved:
                del os.environ[key]
            os.environ.update(environment)
            yield
        finally:
            for key in [k for k in os.environ if k.startswith(PREFIX)]:
                del os.environ[key]
            os.environ.update(saved)


class Scoped:
    """A runtime client whose every method call runs in its function's environment (see the module docstring).

    Attributes are those of the wrapped client (`raw` is the client itself).
    """

    def __init__(self, client: Any, environment: Mapping[str, str]) -> None:
        self.raw = client
        self._environment = dict(environment)

    def __repr__(self) -> str:
        return f"Scoped({self.raw!r})"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.raw, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # a GrantError points at the test's line
            with function_environment(self._environment):
                return value(*args, **kwargs)
        return call


class FunctionView:
    """What the function `address` ("service.function") reaches at runtime, with its grants enforced.

    Attributes:
        address: "service.function" (neutral names).
        name: the function's physical name on the local cloud.
        environment: the variables the function runs with (its registry entry's, plus the gateway's URL and its
            identity token); read it to see what the platform injected.
    """

    def __init__(self, address: str, name: str, environment: Mapping[str, str]) -> None:
        self.address = address
        self.name = name
        self.environment = dict(environment)

    def __repr__(self) -> str:
        return f"FunctionView({self.address!r})"

    def _run(self, call: Callable[[], Any]) -> Any:
        with function_environment(self.environment):
            return Scoped(call(), self.environment)

    def bucket(self, name: str) -> GrantedBucket:
        """`bucket(name)` in the function: a bucket client limited to its grant (`get`, `put`, `list`, `exists`, ...).

        Raises:
            GrantError: the function has no grant on bucket `name`; later, an operation beyond the grant.
        """
        return cast(GrantedBucket, self._run(lambda: runtime.bucket(name)))  # a Scoped one, same methods

    def database(self, name: str) -> Database:
        """`database(name)` in the function: `.connect()` gives a connection (`execute`, `query`, ...).

        Raises:
            GrantError: the function holds no `uses` grant on database `name`.
        """
        return cast(Database, self._run(lambda: runtime.database(name)))  # a Scoped one, same methods

    def queue(self, name: str) -> GrantedQueue:
        """`queue(name)` in the function: `.send(body, attributes=...)` puts a message on it.

        Raises:
            GrantError: the function holds no `sends` grant on queue `name`.
        """
        return cast(GrantedQueue, self._run(lambda: runtime.queue(name)))  # a Scoped one, same methods

    def function(self, name: str) -> GrantedFunction:
        """`function(name)` in the function: `.invoke(payload)`, `.send(payload)`, `.request(method, path, body)`,
        signed with this function's identity (the gateway admits it only with an `invokes` grant).

        Raises:
            GrantError: the function holds no `invokes` grant on function `name`.
        """
        return cast(GrantedFunction, self._run(lambda: runtime.function(name)))  # a Scoped one, same methods

    def secret(self, name: str, max_age: float = 0.0) -> str:
        """`secret(name)` in the function: the secret's current value (read now unless `max_age` > 0 seconds).

        Raises:
            GrantError: the function holds no `reads` grant on secret `name`.
            SecretNotSetError: the secret has no value in the throwaway environment.
        """
        with function_environment(self.environment):
            return runtime.secret(name, max_age=max_age)

    def config(self, name: str, default: str | None = None) -> str | None:
        """`config(name)` in the function: one of its `environment={...}` values, or `default`."""
        with function_environment(self.environment):
            return runtime.config(name, default)
