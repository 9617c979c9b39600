"""The local cloud's databases from a function: credentials from the file the URL's `secret` names.

The local cloud runs PostgreSQL and MariaDB on 127.0.0.1 (`platform_sdk.localcloud.dbserver`) and gives each function
its own role (`localcloud_database_role`), whose password it keeps in `<root>/databases/.secrets/<role>.json`
(mode 0600): `{"username": ..., "password": ...}`. The URL a function receives names that file:
`postgres://<role>@127.0.0.1:<port>/<database>?secret=<file>&cloud=local`. Loopback only, so no TLS.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from platform_sdk.runtime.database import Credentials, DatabaseConfigError, parse_secret

TCP_SSLMODE = "disable"
"""The local servers listen on 127.0.0.1 only, without TLS."""


def fetch_credentials(secret: str, params: Mapping[str, str]) -> Credentials:
    """The user and password in the local credentials file `secret` (an absolute path).

    Raises:
        DatabaseConfigError: the file is missing (the role was destroyed, or the local cloud not applied).
    """
    path = Path(secret)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatabaseConfigError(f"the local credentials file {path} does not exist (has the local cloud been "
                                  "applied?)") from None
    return parse_secret(text)
