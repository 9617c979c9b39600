"""Sign-up and sign-in. Passwords are stored as salted PBKDF2 hashes; sessions are JSON Web Tokens (HS256, PyJWT)
signed with the environment's `jwt-key` secret, and recorded so that the nightly job can forget expired ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time

import jwt

from platform_sdk.runtime import HttpRequest, HttpResponse, database, queue, secret

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, salt TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, email TEXT NOT NULL, expires INTEGER NOT NULL)",
]
ALGORITHM = "HS256"


def _hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 200_000).hex()


def _claims(token: str) -> dict[str, object] | None:
    """The token's claims when it is ours and unexpired; the key is read again once if it may have been rotated."""
    for max_age in (300.0, 0.0):
        try:
            return jwt.decode(token, secret("jwt-key", max_age=max_age), algorithms=[ALGORITHM],
                              options={"require": ["sub", "exp", "jti"]})
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError:
            return None
    return None


def _credentials(request: HttpRequest) -> dict[str, str] | None:
    """The JSON body {email, password} as strings, or None when the body is not that."""
    try:
        body = request.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k] for k in ("email", "password")):
        return None
    return {"email": body["email"], "password": body["password"]}


def handle(request: HttpRequest) -> HttpResponse:
    """POST /signup {email, password}; POST /signin {email, password} -> {token}; GET /me with a bearer token.
    A body that is not {email, password} as JSON strings gets 400."""
    if request.method == "POST" and request.path.endswith(("/signup", "/signin")) and _credentials(request) is None:
        return HttpResponse(400, {"error": "the body must be JSON: {\"email\": \"...\", \"password\": \"...\"}"})
    db = database("users")
    with db.connect() as conn:
        for statement in SCHEMA:
            conn.execute(statement)
        if request.method == "POST" and request.path.endswith("/signup"):
            body = request.json()
            salt = secrets.token_hex(16)
            if conn.query("SELECT 1 FROM users WHERE email = ?", (body["email"],)):
                return HttpResponse(409, {"error": "email already registered"})
            conn.execute("INSERT INTO users (email, salt, hash) VALUES (?, ?, ?)",
                         (body["email"], salt, _hash(body["password"], salt)))
            # the welcome message goes through the notifications service's queue (delivered at least once)
            queue("outbox").send(json.dumps({"template": "welcome", "email": body["email"]}))
            return HttpResponse(201, {"email": body["email"]})
        if request.method == "POST" and request.path.endswith("/signin"):
            body = request.json()
            rows = conn.query("SELECT salt, hash FROM users WHERE email = ?", (body["email"],))
            if not rows or not hmac.compare_digest(rows[0][1], _hash(body["password"], rows[0][0])):
                return HttpResponse(401, {"error": "wrong email or password"})
            expires = int(time.time()) + int(os.environ.get("SESSION_TTL_SECONDS", "3600"))
            claims = {"sub": body["email"], "jti": secrets.token_urlsafe(16), "exp": expires}
            token = jwt.encode(claims, secret("jwt-key"), algorithm=ALGORITHM)
            conn.execute("INSERT INTO sessions (token, email, expires) VALUES (?, ?, ?)",
                         (token, body["email"], expires))
            return HttpResponse(200, {"token": token})
        if request.method == "GET" and request.path.endswith("/me"):
            token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            rows = conn.query("SELECT email FROM sessions WHERE token = ? AND expires > ?",
                              (token, int(time.time()))) if _claims(token) else []
            if not rows:
                return HttpResponse(401, {"error": "not signed in"})
            return HttpResponse(200, {"email": rows[0][0]})
    return HttpResponse(404, {"error": "routes: POST /signup, POST /signin, GET /me"})
