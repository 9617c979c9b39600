"""On-demand image thumbnails: originals land in a bucket, a function resizes them, a CDN serves the results."""

from platform_sdk import Bucket, Cdn, Function, Service, http, object_created

service = Service("thumbnails", owner="media-team", description="Image thumbnails for the storefront")

originals = service.add(Bucket("originals", versioning=True))
thumbs = service.add(Bucket("thumbs", expire_days=365))

resize = service.add(Function(
    "resize",
    handler="resize.on_upload",
    source="functions/thumbnails",
    memory=1024,
    timeout=60,
    environment={"THUMBNAIL_WIDTHS": "128,512"},
    triggers=[object_created(originals, suffix=".jpg"), object_created(originals, suffix=".png")],
))
resize.reads(originals).writes(thumbs)

on_demand = service.add(Function(
    "on-demand",
    handler="resize.on_request",
    source="functions/thumbnails",
    memory=1024,
    environment={"THUMBNAIL_WIDTHS": "128,512"},
    triggers=[http()],
))
on_demand.reads(originals).reads_writes(thumbs)

service.add(Cdn("cdn", origin=thumbs))
