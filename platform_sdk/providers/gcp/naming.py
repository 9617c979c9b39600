"""GCP naming rules: what Cloud Storage accepts, and deterministic shortening for length-limited ids.

Why: physical names come from an organisation-wide convention (`<prefix>-<env>-<service>-<resource>`) that can
be longer than a GCP id allows (service accounts: 30, compute resources: 63). Shortening must be deterministic
so a re-synth names the same resource the same way, and must keep names unique: a hash of the full name does.
"""

from __future__ import annotations

import hashlib
import re

BUCKET_CHARS = re.compile(r"^[a-z0-9._-]+$")
IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# "google" and close misspellings (digits standing in for letters, one or many o's): GCS rejects them all.
LOOKALIKES = str.maketrans({"0": "o", "1": "l", "3": "e", "9": "g", "6": "g"})
GOOGLE_LIKE = re.compile(r"go+gle")


def digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def shorten(name: str, limit: int) -> str:
    """`name` if it fits, else a truncated prefix plus a short hash of the full name (still unique)."""
    if len(name) <= limit:
        return name
    head = name[: limit - 9].rstrip("-_.")
    return f"{head}-{digest(name)}"


def rfc1035(name: str, limit: int = 63) -> str:
    """Compute Engine / Cloud Functions / Cloud SQL style ids: lowercase letter first, letters, digits and '-'."""
    clean = re.sub(r"[^a-z0-9-]", "-", name.lower())
    if not clean or not clean[0].isalpha():
        clean = f"x{clean}"
    return shorten(clean, limit).rstrip("-")


def account_id(name: str, role: str = "") -> str:
    """Service account ids are 6-30 characters `[a-z][-a-z0-9]*[a-z0-9]`: derive one from a physical name.

    A `role` (a platform-owned account, not a resource's) always adds a hash of name+role, so it can never
    equal the id derived from a user resource's physical name.
    """
    clean = rfc1035(name, 30)
    if role:
        return f"{clean[:21].rstrip('-')}-{digest(f'{name}/{role}')}"
    return clean if len(clean) >= 6 else f"{clean}-{digest(name, 5)}"


def bucket_name_problems(name: str) -> list[str]:
    """Every Cloud Storage naming rule `name` breaks (empty = valid).

    Rules (cloud.google.com/storage/docs/buckets#naming): 3-63 characters, or up to 222 with dots where each
    dot-separated part is at most 63; lowercase letters, digits, '-', '_' and '.'; start and end with a letter
    or digit; not an IP address; must not begin with "goog" nor contain "google" or a close misspelling.
    """
    problems: list[str] = []
    if "." in name:
        if not 3 <= len(name) <= 222:
            problems.append(f"{name!r} is {len(name)} characters (3-222 allowed for names with dots)")
        long_parts = [part for part in name.split(".") if len(part) > 63]
        if long_parts:
            problems.append(f"{name!r} has a dot-separated part longer than 63 characters")
    elif not 3 <= len(name) <= 63:
        problems.append(f"{name!r} is {len(name)} characters (3-63 allowed)")
    if not BUCKET_CHARS.match(name):
        problems.append(f"{name!r} may only use lowercase letters, digits, '-', '_' and '.'")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append(f"{name!r} must start and end with a letter or digit")
    if IP_ADDRESS.match(name):
        problems.append(f"{name!r} looks like an IP address")
    lookalike = name.translate(LOOKALIKES)
    if lookalike.startswith("goog"):
        problems.append(f"{name!r} begins with 'goog'")
    if GOOGLE_LIKE.search(lookalike):
        problems.append(f"{name!r} contains 'google' or a close misspelling of it")
    return problems
