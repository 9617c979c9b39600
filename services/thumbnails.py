"""On-demand image thumbnails: originals land in a bucket, a function resizes them, a CDN serves the results."""

from platform_sdk import Service
from platform_sdk.modules import ImagePipeline

service = Service("thumbnails", owner="media-team", description="Image thumbnails for the storefront")

images = service.add(ImagePipeline("images", prefix="", source="functions/thumbnails", widths=[128, 512]))
