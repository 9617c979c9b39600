"""Renders a notification (internal: only granted functions may call it)."""

from __future__ import annotations

from platform_sdk.runtime import HttpRequest, HttpResponse

TEMPLATES = {"welcome": ("Welcome aboard", "Hello {email}, your account is ready.")}


def handle(request: HttpRequest) -> HttpResponse:
    """POST {"template", "email"} -> {"subject", "text"}."""
    body = request.json() or {}
    subject, text = TEMPLATES.get(body.get("template", ""), ("", ""))
    if not subject:
        return HttpResponse(400, {"error": f"no template {body.get('template')!r}"})
    return HttpResponse(200, {"subject": subject, "text": text.format(email=body.get("email", ""))})
