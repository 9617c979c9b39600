"""platform SDK: declare services with neutral resources; compile them to Terraform for AWS, GCP or the local cloud."""

from platform_sdk.model import (
    Bucket,
    Cdn,
    Cors,
    Database,
    Function,
    Service,
    http,
    object_created,
    schedule,
)

__version__ = "0.1.0"
__all__ = ["Bucket", "Cdn", "Cors", "Database", "Function", "Service", "http", "object_created", "schedule"]
