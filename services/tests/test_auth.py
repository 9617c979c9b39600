"""The identity team's tests of the auth service: sign-up, sign-in and sessions over HTTP against the throwaway
local cloud's database (the local cloud keeps databases as SQLite files), the nightly cleanup, and the grants."""

from __future__ import annotations

import time
import uuid

import pytest

from platform_sdk.runtime import GrantError


def email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def test_sign_up_then_sign_in_gives_a_session(platform) -> None:
    who = email()
    signup = platform.http("auth.api", "POST", "/signup", json_body={"email": who, "password": "correct horse"})
    assert signup.status == 201, signup.text
    assert platform.http("auth.api", "POST", "/signup", json_body={"email": who, "password": "x"}).status == 409

    wrong = platform.http("auth.api", "POST", "/signin", json_body={"email": who, "password": "wrong"})
    assert wrong.status == 401
    signin = platform.http("auth.api", "POST", "/signin", json_body={"email": who, "password": "correct horse"})
    assert signin.status == 200, signin.text
    token = signin.json()["token"]

    me = platform.http("auth.api", "GET", "/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.status, me.json()) == (200, {"email": who})
    assert platform.http("auth.api", "GET", "/me", headers={"Authorization": "Bearer forged"}).status == 401


def test_passwords_are_stored_only_as_salted_hashes(platform) -> None:
    who = email()
    assert platform.http("auth.api", "POST", "/signup", json_body={"email": who, "password": "hunter22"}).status == 201
    with platform.as_function("auth.api").database("users").connect() as conn:
        rows = conn.query("SELECT salt, hash FROM users WHERE email = ?", (who,))
    assert len(rows) == 1
    salt, digest = rows[0]
    assert "hunter22" not in (salt + digest) and len(digest) == 64


def test_sessions_are_signed_with_the_generated_key(platform) -> None:
    import jwt

    who = email()
    platform.http("auth.api", "POST", "/signup", json_body={"email": who, "password": "pw"})
    token = platform.http("auth.api", "POST", "/signin", json_body={"email": who, "password": "pw"}).json()["token"]
    key = platform.as_function("auth.api").secret("jwt-key")
    assert len(key) == 64
    assert jwt.decode(token, key, algorithms=["HS256"])["sub"] == who


def test_the_nightly_cleanup_forgets_expired_sessions(platform) -> None:
    cleanup = platform.as_function("auth.cleanup")
    expired, live = f"expired-{uuid.uuid4().hex}", f"live-{uuid.uuid4().hex}"
    with cleanup.database("users").connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, email TEXT NOT NULL, "
                     "expires INTEGER NOT NULL)")
        conn.execute("INSERT INTO sessions VALUES (?, ?, ?)", (expired, "old@example.com", int(time.time()) - 60))
        conn.execute("INSERT INTO sessions VALUES (?, ?, ?)", (live, "new@example.com", int(time.time()) + 3600))

    invocation = platform.tick("auth.cleanup")

    assert invocation.status == "ok"
    with cleanup.database("users").connect() as conn:
        left = {row[0] for row in conn.query("SELECT token FROM sessions WHERE token IN (?, ?)", (expired, live))}
    assert left == {live}


def test_the_cleanup_job_reaches_the_database_and_nothing_else(platform) -> None:
    cleanup = platform.as_function("auth.cleanup")
    with pytest.raises(GrantError, match="no grant on secret 'jwt-key'"):
        cleanup.secret("jwt-key")
    with pytest.raises(GrantError, match="no grant on queue 'outbox'"):
        cleanup.queue("outbox")
    with pytest.raises(GrantError, match="no grant on bucket 'originals'"):
        cleanup.bucket("originals")


def test_a_body_that_is_not_credentials_gets_400_not_a_crash(platform) -> None:
    for body in (b"not json", b"[]", b'{"email": "a@b.c"}', b'{"email": 1, "password": "x"}'):
        for path in ("/signup", "/signin"):
            answer = platform.http("auth.api", "POST", path, body=body)
            assert answer.status == 400, (path, body, answer.status, answer.text)
            assert "must be JSON" in answer.json()["error"]
