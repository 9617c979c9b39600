"""Static web app: the site's files in a bucket behind a CDN, and a small API function."""

from platform_sdk import Bucket, Cdn, Cors, Function, Service, http

service = Service("web", owner="web-team", description="The storefront web app")

site = service.add(Bucket("site", cors=Cors(origins=["https://shop.example.com"])))
service.add(Cdn("cdn", origin=site))

api = service.add(Function("api", handler="api.handle", source="functions/web", triggers=[http()]))
api.reads(site)
