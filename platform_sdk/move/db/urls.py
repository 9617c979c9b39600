"""Database URLs as the clouds' stacks output them: engine, where to connect, and a form safe to show.

`postgresql://user:password@host:5432/name`, `mysql://user:password@host:3306/name` (also `mariadb://`),
`sqlite:///absolute/path.sqlite3`. User, password and database name are percent-decoded; query parameters
(`?secret=...&cloud=aws`) are kept for the caller but never passed to a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql",
           "sqlite": "sqlite"}
LABELS = {"postgres": "PostgreSQL", "mysql": "MariaDB/MySQL", "sqlite": "SQLite"}


def engine_of(url: str) -> str:
    """`postgres`, `mysql` or `sqlite` for a supported scheme; otherwise the scheme itself (or `?`)."""
    scheme = urlparse(url).scheme
    return SCHEMES.get(scheme, scheme or "?")


def label_of(engine: str) -> str:
    """The engine's name for people: `PostgreSQL`, `MariaDB/MySQL`, `SQLite`, or the engine string itself."""
    return LABELS.get(engine, engine)


def redact(url: str) -> str:
    """The URL with any password replaced by `***` (the rest unchanged, so people recognise it)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    host = parsed.netloc.rpartition("@")[2]
    return parsed._replace(netloc=f"{parsed.username or ''}:***@{host}").geturl()


@dataclass(frozen=True)
class DatabaseUrl:
    """One parsed database URL. `str()` is the redacted form: safe in messages and reports."""

    url: str
    engine: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str = ""
    path: Path | None = None  # SQLite only

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        parsed = urlparse(url)
        engine = engine_of(url)
        if engine == "sqlite":
            return cls(url, engine, path=Path(unquote(parsed.path)))
        return cls(url, engine, host=parsed.hostname, port=parsed.port,
                   user=unquote(parsed.username) if parsed.username else None,
                   password=unquote(parsed.password) if parsed.password is not None else None,
                   database=unquote(parsed.path.lstrip("/")))

    @property
    def identity(self) -> str:
        """Which database this is, without credentials: the key of the overwrite history."""
        if self.path is not None:
            return f"sqlite://{self.path.resolve()}"
        return f"{self.engine}://{self.host or ''}:{self.port or ''}/{self.database}"

    def __str__(self) -> str:
        return redact(self.url)
