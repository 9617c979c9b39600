"""On-demand image thumbnails: originals land in a bucket, a function resizes them, a CDN serves the results."""

from platform_sdk import Service
from platform_sdk.modules import ImagePipeline

service = Service("thumbnails", owner="media-team", description="Image thumbnails for the storefront")

images = service.add(ImagePipeline("images", prefix="", source="functions/thumbnails", widths=[128, 512]))
# What thumbnails cost is worth knowing: the code counts every one it serves (`metric("thumbnails_served")`), by width
# and by whether it had to be made first; the service's dashboard shows it on every cloud.
served = service.metric("thumbnails_served", unit="Count", dimensions=["width", "made"],
                        description="thumbnails served on demand")
