"""Reusable compositions the platform team publishes: add one to a service like a resource.

    from platform_sdk.modules import StaticSite
    site = service.add(StaticSite("site", domain="shop.example.com"))
    api.reads(site.bucket)

Modules are versioned with the SDK (`platform_sdk.__version__`): upgrading the SDK can change what a module
builds, so pin the SDK like any other dependency. A team publishes its own modules the same way: subclass
`Module` in an ordinary Python package (see examples/platform-team/).
"""

from platform_sdk import __version__
from platform_sdk.modules.base import FunctionGrants, Module, describe
from platform_sdk.modules.http_api import HttpApi, Route, route_slug
from platform_sdk.modules.image_pipeline import ImagePipeline
from platform_sdk.modules.scheduled_job import ScheduledJob
from platform_sdk.modules.service_with_database import ServiceWithDatabase
from platform_sdk.modules.static_site import StaticSite

__all__ = [
    "FunctionGrants", "HttpApi", "ImagePipeline", "Module", "Route", "ScheduledJob", "ServiceWithDatabase",
    "StaticSite", "__version__", "describe", "route_slug",
]
