"""The web team's tests of the storefront: the API answers only through the site's CDN (at /api/*), lists the pages
published to the site bucket, and takes feedback."""

from __future__ import annotations

import uuid

import pytest

from platform_sdk.runtime import GrantError


def test_the_api_lists_published_pages_through_its_cdn(platform) -> None:
    page = f"about-{uuid.uuid4().hex[:8]}.html"
    platform.upload("web.site", page, b"<h1>About us</h1>", content_type="text/html")

    response = platform.http("web.cdn", "GET", "/api/pages")
    assert response.status == 200, response.text
    assert page in response.json()["pages"]

    site = platform.http("web.cdn", "GET", f"/{page}")
    assert (site.status, site.text) == (200, "<h1>About us</h1>")


def test_the_api_is_reached_only_through_its_cdn(platform) -> None:
    direct = platform.http("web.api", "GET", "/pages")
    assert direct.status == 403 and "answers only through it" in direct.text


def test_feedback_is_posted_not_fetched(platform) -> None:
    assert platform.http("web.cdn", "POST", "/api/feedback", body=b"great shop").json() == {"received": 10}
    refused = platform.http("web.cdn", "GET", "/api/feedback")
    assert (refused.status, refused.headers.get("allow")) == (405, "POST")


def test_the_api_only_reads_the_site(platform) -> None:
    api = platform.as_function("web.api")
    assert api.bucket("site").list() is not None
    with pytest.raises(GrantError, match=r"may not call put\(\) on bucket 'site'"):
        api.bucket("site").put("defaced.html", b"<h1>oops</h1>")
