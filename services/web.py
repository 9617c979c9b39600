"""Static web app: the site's files in a bucket behind a CDN, and a small API function behind its own CDN."""

from platform_sdk import Cdn, Function, Service, http
from platform_sdk.modules import StaticSite

service = Service("web", owner="web-team", description="The storefront web app")

site = service.add(StaticSite("site", prefix="", content="site/", cors_origins=["https://shop.example.com"]))

api = service.add(Function("api", handler="api.handle", source="functions/web", triggers=[http()]))
api.reads(site.bucket)
service.add(Cdn("api-cdn", origin=api))  # the API's only way in: its own URL admits nothing but this CDN
