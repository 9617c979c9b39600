"""The neutral model: services and the resource kinds they declare, knowing no cloud.

One module per kind, each the single declaration of that kind: its class, its settings (types, units,
defaults and the errors they raise, in the class docstring), the grants a function may hold on it and the
runtime operations each grant allows (`OPERATIONS`):

- `base`: `Resource` (name, service, declaring line) and `Spec`, the base of reusable groups of settings;
- `bucket`: `Bucket`, `Cors`; grants "read", "write", "readwrite";
- `database`: `Database`, `DatabaseSpec`; grant "connect";
- `secret`: `Secret`; grant "read";
- `queue`: `Queue`; grant "send";
- `function`: `Function`, `FunctionSpec`, `Grant`; grant "invoke" (one function calling another);
- `triggers`: `http(auth=...)`, `jwt(...)`, `schedule(cron)`, `object_created(bucket)`, `queue_message(queue)`;
- `cdn`: `Cdn`;
- `alarms`: `Alarms`, the thresholds of a function's or a CDN's alarms (on by default), and `ALARM_KEYS` per kind;
- `metrics`: `Metric`, a business metric a service declares (`service.metric(...)`);
- `service`: `Service`, which resources and modules are added to, and its raw-Terraform escape hatches (`Hatch`).
"""

from platform_sdk.model.alarms import ALARM_KEYS, Alarms, AlarmThreshold, alarm_thresholds
from platform_sdk.model.base import NAME_PATTERN, Resource, Spec
from platform_sdk.model.bucket import Bucket, Cors
from platform_sdk.model.cdn import Cdn
from platform_sdk.model.database import Database, DatabaseSpec
from platform_sdk.model.function import Access, Function, FunctionSpec, Grant
from platform_sdk.model.metrics import Metric
from platform_sdk.model.queue import Queue
from platform_sdk.model.secret import Secret
from platform_sdk.model.service import Composite, Hatch, Service
from platform_sdk.model.triggers import (
    HttpTrigger,
    Jwt,
    ObjectCreatedTrigger,
    QueueMessageTrigger,
    ScheduleTrigger,
    Trigger,
    http,
    jwt,
    object_created,
    queue_message,
    schedule,
)

KINDS: tuple[type[Resource], ...] = (Bucket, Database, Secret, Queue, Function, Cdn)
"""Every resource kind, in build order (producers before consumers)."""

__all__ = [
    "ALARM_KEYS", "KINDS", "NAME_PATTERN", "Access", "AlarmThreshold", "Alarms", "Bucket", "Cdn", "Composite", "Cors",
    "Database", "DatabaseSpec", "Function", "FunctionSpec", "Grant", "Hatch", "HttpTrigger", "Jwt", "Metric",
    "ObjectCreatedTrigger", "Queue", "QueueMessageTrigger", "Resource", "ScheduleTrigger", "Secret", "Service", "Spec",
    "Trigger", "alarm_thresholds", "http", "jwt", "object_created", "queue_message", "schedule",
]
