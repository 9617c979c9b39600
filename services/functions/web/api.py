"""The web app's API: lists the site's published pages."""

from __future__ import annotations

from platform_sdk.runtime import HttpRequest, HttpResponse, bucket


def handle(request: HttpRequest) -> HttpResponse:
    if request.path.rstrip("/").endswith("/pages"):
        pages = sorted(obj.key for obj in bucket("site").list() if obj.key.endswith(".html"))
        return HttpResponse(200, {"pages": pages})
    return HttpResponse(200, {"service": "web", "routes": ["/pages"]})
