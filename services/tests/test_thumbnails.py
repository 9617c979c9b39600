"""The media team's tests of the thumbnails service, run with `platform test services/tests` (see
docs/testing-apps.md): real uploads into the throwaway local cloud, the real resize function, its real grants."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from platform_sdk.runtime import GrantError


def image(fmt: str = "JPEG", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def test_an_upload_gets_a_thumbnail_of_every_width(platform) -> None:
    key = f"cat-{uuid.uuid4().hex[:8]}.jpg"
    platform.upload("thumbnails.originals", key, image(size=(640, 480)), content_type="image/jpeg")

    platform.wait_for_invocation("thumbnails.resize")
    thumbs = platform.bucket("thumbnails.thumbs")
    for width, height in ((128, 96), (512, 384)):
        data = platform.wait_for(lambda w=width: thumbs.exists(f"{w}/{key}") and thumbs.get(f"{w}/{key}"),
                                 what=f"thumbnail {width}/{key}", functions=["thumbnails.resize"])
        with Image.open(io.BytesIO(data)) as thumb:
            assert (thumb.format, thumb.size) == ("JPEG", (width, height))


def test_uploads_that_are_not_images_of_the_right_kind_are_left_alone(platform) -> None:
    key = f"notes-{uuid.uuid4().hex[:8]}.txt"
    platform.upload("thumbnails.originals", key, b"not an image")
    png = f"logo-{uuid.uuid4().hex[:8]}.png"
    platform.upload("thumbnails.originals", png, image("PNG", (256, 256)))

    # the .png is resized (the trigger's suffixes are .jpg and .png); the .txt fired nothing
    thumbs = platform.bucket("thumbnails.thumbs")
    platform.wait_for(lambda: thumbs.exists(f"128/{png}"), what="the png's thumbnail", functions=["thumbnails.resize"])
    assert not thumbs.exists(f"128/{key}")
    assert all(key not in call.detail for call in platform.invocations("thumbnails.resize"))


def test_a_thumbnail_on_demand_through_the_cdn_of_the_on_demand_function(platform) -> None:
    key = f"dog-{uuid.uuid4().hex[:8]}.jpg"
    platform.as_function("thumbnails.on-demand").bucket("originals")  # on-demand may read originals...
    platform.bucket("thumbnails.originals").put(key, image(size=(1024, 512)))

    response = platform.http("thumbnails.on-demand", "GET", "/", query={"key": key, "width": "128"})
    assert response.status == 200, response.text
    with Image.open(io.BytesIO(response.body)) as thumb:
        assert thumb.size == (128, 64)
    assert platform.http("thumbnails.on-demand", query={"key": key, "width": "100"}).status == 400
    assert platform.http("thumbnails.on-demand", query={"key": "missing.jpg", "width": "128"}).status == 404


def test_resize_reaches_only_what_it_was_granted(platform) -> None:
    resize = platform.as_function("thumbnails.resize")
    resize.bucket("thumbs").put("granted/probe.txt", b"resize writes thumbs")
    with pytest.raises(GrantError, match=r"may not call get\(\) on bucket 'thumbs'"):
        resize.bucket("thumbs").get("granted/probe.txt")  # write-only grant
    with pytest.raises(GrantError, match=r"may not call put\(\) on bucket 'originals'"):
        resize.bucket("originals").put("x.jpg", b"...")  # read-only grant
    with pytest.raises(GrantError, match="no grant on database 'users'"):
        resize.database("users")
    with pytest.raises(GrantError, match="no grant on secret 'jwt-key'"):
        resize.secret("jwt-key")
