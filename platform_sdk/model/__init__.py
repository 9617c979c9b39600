"""The neutral model: services and resources that know no cloud."""

from platform_sdk.model.resources import (
    Bucket,
    Cdn,
    Cors,
    Database,
    Function,
    Grant,
    HttpTrigger,
    ObjectCreatedTrigger,
    Resource,
    ScheduleTrigger,
    http,
    object_created,
    schedule,
)
from platform_sdk.model.service import Service

__all__ = [
    "Bucket", "Cdn", "Cors", "Database", "Function", "Grant", "HttpTrigger", "ObjectCreatedTrigger",
    "Resource", "ScheduleTrigger", "Service", "http", "object_created", "schedule",
]
