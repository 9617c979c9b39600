"""Make thumbnails of uploaded images; serve a thumbnail on demand, making it first if needed."""

from __future__ import annotations

import io
import os

from PIL import Image

from platform_sdk.runtime import HttpRequest, HttpResponse, ObjectCreated, bucket, metric

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def widths() -> list[int]:
    return [int(w) for w in os.environ.get("THUMBNAIL_WIDTHS", "128").split(",")]


def make_thumbnail(data: bytes, width: int) -> tuple[bytes, str]:
    """Scale to `width` keeping the aspect ratio; keep the original format."""
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format or "PNG"
        height = max(1, round(image.height * width / image.width))
        source = image.convert("RGB") if fmt == "JPEG" else image
        thumb = source.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        thumb.save(out, format=fmt)
    return out.getvalue(), CONTENT_TYPES.get(fmt, "application/octet-stream")


def on_upload(event: ObjectCreated) -> None:
    """Object-created trigger: write one thumbnail per configured width as `<width>/<key>`."""
    original = bucket("originals").get(event.key)
    for width in widths():
        data, content_type = make_thumbnail(original, width)
        bucket("thumbs").put(f"{width}/{event.key}", data, content_type=content_type)


def on_request(request: HttpRequest) -> HttpResponse:
    """GET ?key=cat.jpg&width=128 -> the thumbnail, made from the original when it does not exist yet."""
    key = request.query.get("key", "")
    try:
        width = int(request.query.get("width", str(widths()[0])))
    except ValueError:
        return HttpResponse(400, {"error": "width must be a whole number"})
    if not key or width not in widths():
        return HttpResponse(400, {"error": f"need ?key=...&width= one of {widths()}"})
    thumbs = bucket("thumbs")
    name = f"{width}/{key}"
    made = not thumbs.exists(name)
    if made:
        originals = bucket("originals")
        if not originals.exists(key):
            return HttpResponse(404, {"error": f"no original named {key}"})
        data, content_type = make_thumbnail(originals.get(key), width)
        thumbs.put(name, data, content_type=content_type)
    metric("thumbnails_served").add(1, dimensions={"width": width, "made": "yes" if made else "no"})
    return HttpResponse(200, thumbs.get(name), headers={"content-type": "image/" + key.rsplit(".", 1)[-1]})
