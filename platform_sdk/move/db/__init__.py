"""Database copy for moves, one module per idea: URLs, canonical row checksums, the report, the overwrite history,
local client tools, and one module per engine (PostgreSQL, MariaDB/MySQL, SQLite).

`platform_sdk.move.database` is the entry point (`copy_database`, `preflight`); these modules are its parts.
"""
