"""platform SDK: declare services with neutral resources; compile them to Terraform for AWS, GCP or the local cloud.

Names are imported lazily so that processes which need only a corner of the package (the local cloud's
provider plugin, a deployed function's runtime) do not pay for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Alarms", "Bucket", "Cdn", "Cors", "Database", "Function", "Queue", "Secret", "Service", "http", "jwt",
           "object_created", "queue_message", "schedule"]

if TYPE_CHECKING:
    from platform_sdk.model import (
        Alarms,
        Bucket,
        Cdn,
        Cors,
        Database,
        Function,
        Queue,
        Secret,
        Service,
        http,
        jwt,
        object_created,
        queue_message,
        schedule,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        import platform_sdk.model as model

        return getattr(model, name)
    raise AttributeError(f"module 'platform_sdk' has no attribute {name!r}")
