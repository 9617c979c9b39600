"""Static web app on one host: the site's files in a bucket at `/`, its API function at `/api/*`, behind one CDN."""

from platform_sdk import Function, Service, http
from platform_sdk.modules import StaticSite

service = Service("web", owner="web-team", description="The storefront web app")

api = service.add(Function("api", handler="api.handle", source="functions/web", triggers=[http()]))
# One CDN, one domain per stage ([overrides."web.cdn"] domain in each environment file): the API is reached only
# through it (its own URL admits nothing else), on the site's host, so browsers need no CORS for it.
site = service.add(StaticSite("site", prefix="", content="site/", routes={"/api/*": api},
                              cors_origins=["https://shop.example.com"]))
api.reads(site.bucket)
