"""The runtime's `Connection` on a real PostgreSQL: an error caught inside a transaction.

PostgreSQL refuses every statement after an error in a transaction, and its COMMIT then ends the transaction as a
ROLLBACK without an error: a `with database(...).connect()` block that caught a failed INSERT and went on lost all
its writes silently, or failed later with "current transaction is aborted" naming no cause. The connection now says
which statement failed, and commits nothing without saying so.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from pg8000.exceptions import DatabaseError

from platform_sdk.runtime.database import Connection, TransactionAborted
from tests.postgres import create_database, postgres_server  # noqa: F401 - fixture


def connect(url: str) -> Connection:
    import pg8000.dbapi

    parsed = urlparse(url)
    raw = pg8000.dbapi.connect(host=parsed.hostname, port=parsed.port, user=parsed.username,
                               database=parsed.path.lstrip("/"), ssl_context=False)
    return Connection(raw, "postgres")


def test_a_caught_error_is_named_and_nothing_is_committed_silently(postgres_server: str) -> None:  # noqa: F811
    url = create_database(postgres_server, "rt_tx")
    with connect(url) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes VALUES (?, ?)", (1, "first"))

    with pytest.raises(TransactionAborted) as aborted, connect(url) as conn:
        conn.execute("INSERT INTO notes VALUES (?, ?)", (2, "kept?"))
        with pytest.raises(DatabaseError, match="duplicate key"):  # the driver's own error, caught
            conn.execute("INSERT INTO notes VALUES (?, ?)", (1, "duplicate"))
    assert aborted.value.statement == "INSERT INTO notes VALUES (?, ?)"
    assert "nothing of this transaction was committed" in str(aborted.value)

    with pytest.raises(TransactionAborted, match="statement 'SELECT count"), connect(url) as conn:
        with pytest.raises(DatabaseError, match="duplicate key"):
            conn.execute("INSERT INTO notes VALUES (?, ?)", (1, "duplicate"))
        conn.query("SELECT count(*) FROM notes")  # refused by the server: the cause is named

    with connect(url) as conn:  # a rollback after the caught error goes on as expected
        with pytest.raises(DatabaseError, match="duplicate key"):
            conn.execute("INSERT INTO notes VALUES (?, ?)", (1, "duplicate"))
        conn.rollback()
        conn.execute("INSERT INTO notes VALUES (?, ?)", (3, "after rollback"))
    with connect(url) as conn:
        assert conn.query("SELECT id, body FROM notes ORDER BY id") == [(1, "first"), (3, "after rollback")]
