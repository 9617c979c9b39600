"""The web app's API, behind its CDN: lists the site's published pages and takes feedback from the storefront."""

from __future__ import annotations

from platform_sdk.runtime import HttpRequest, HttpResponse, bucket


def handle(request: HttpRequest) -> HttpResponse:
    if request.path.rstrip("/").endswith("/pages"):
        pages = sorted(obj.key for obj in bucket("site").list() if obj.key.endswith(".html"))
        return HttpResponse(200, {"pages": pages})
    if request.path.rstrip("/").endswith("/feedback"):
        if request.method != "POST":
            return HttpResponse(405, {"error": "POST your feedback"}, headers={"allow": "POST"})
        return HttpResponse(201, {"received": len(request.body)})
    return HttpResponse(200, {"service": "web", "routes": ["/pages", "/feedback"]})
