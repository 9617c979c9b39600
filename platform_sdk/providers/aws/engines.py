"""The RDS engines the AWS compiler offers for the neutral database engines: versions, ports, logs, parameters."""

from __future__ import annotations

from typing import Any

ENGINES: dict[str, dict[str, Any]] = {
    "postgres": {
        "engine": "postgres", "version": "16", "family": "postgres16", "port": 5432, "scheme": "postgres",
        "log_exports": ["postgresql", "upgrade"],
        # statements slower than one second, every schema change (CREATE, ALTER, DROP), and TLS only (the default
        # from Postgres 15 on, stated so a changed default cannot silently allow plaintext)
        "parameters": {"log_min_duration_statement": "1000", "log_statement": "ddl", "rds.force_ssl": "1"},
    },
    "mysql": {
        "engine": "mysql", "version": "8.0", "family": "mysql8.0", "port": 3306, "scheme": "mysql",
        "log_exports": ["error", "slowquery"],
        # the slow query log (statements over one second), written to files: RDS exports only file logs; TLS only
        "parameters": {"slow_query_log": "1", "long_query_time": "1", "log_output": "FILE",
                       "require_secure_transport": "1"},
    },
}
