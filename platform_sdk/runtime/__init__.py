"""The neutral runtime API function code imports: `from platform_sdk.runtime import bucket, secret, HttpRequest, ...`.

It is shipped inside every function package (with an empty `platform_sdk/__init__.py`), so importing it
costs only the standard library: boto3, google-cloud-* and pg8000 load lazily when a cloud resource is
first used.
"""

# The submodule `platform_sdk.runtime.database` shares its name with the `database()` function. Import the
# submodule first: loading it later would rebind this package's `database` attribute to the module, and
# `from platform_sdk.runtime import database` would then hand user code a module instead of the function.
from platform_sdk.runtime import database as _database_module  # noqa: F401  (must precede the next line)
from platform_sdk.runtime.database import TransactionAborted
from platform_sdk.runtime.events import (
    FunctionCall,
    HttpRequest,
    HttpResponse,
    ObjectCreated,
    QueueMessage,
    ScheduleTick,
)
from platform_sdk.runtime.functions import CallError, function
from platform_sdk.runtime.metrics import MetricError, metric
from platform_sdk.runtime.queues import queue
from platform_sdk.runtime.resources import GrantError, bucket, config, database
from platform_sdk.runtime.secrets import SecretNotSetError, secret

__all__ = [
    "CallError",
    "FunctionCall",
    "GrantError",
    "HttpRequest",
    "HttpResponse",
    "MetricError",
    "ObjectCreated",
    "QueueMessage",
    "ScheduleTick",
    "SecretNotSetError",
    "TransactionAborted",
    "bucket",
    "config",
    "database",
    "function",
    "metric",
    "queue",
    "secret",
]
