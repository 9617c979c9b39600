"""Least-privilege database roles: one login role per function grant, with exactly the rights `uses(db)` implies.

Functions never connect as the database's master user. The platform creates, for each function granted a database,
a login role whose rights are the grant's and nothing more, by running the statements of this module as the
database's administrator (the local cloud's provider does it on a laptop; on a cloud the platform's setup step,
see docs/databases.md). Standard library only: this module is shipped inside function packages.

What `connect` grants (`fn.uses(database)`), on PostgreSQL and MySQL/MariaDB:

- every role: log in to its database, and only that one; read and write the rows of every table of the database's
  schema (`public` on PostgreSQL, the database itself on MySQL): SELECT, INSERT, UPDATE, DELETE, and USAGE/SELECT
  on sequences (PostgreSQL), for tables that exist now and tables created later;
- owner roles (functions of the service that declares the database: their code carries its schema, e.g.
  `CREATE TABLE IF NOT EXISTS`): also create tables and indexes in that schema. On PostgreSQL a table belongs to the
  role that created it, which alone may ALTER or DROP it; MySQL has no table owners, so nobody may ALTER or DROP;
- nobody: superuser or administrator rights, creating roles or databases, other databases, other schemas,
  TRUNCATE, GRANT OPTION, altering or dropping tables another role created.

On PostgreSQL every role of a database is a member of its NOLOGIN group role `<database>_data`; the group holds the
row rights (default privileges make tables created later by the administrator or an owner role the group's to use).
Dropping a role keeps its data: its tables are reassigned to the administrator first (REASSIGN OWNED).

Authentication (`Role.auth`): "password" (the local cloud), "rds_iam" (RDS IAM database authentication: the
PostgreSQL role joins `rds_iam`, the MySQL user is IDENTIFIED WITH AWSAuthenticationPlugin; RDS User Guide,
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html), or "external"
(the cloud creates and manages the login, this module only grants and revokes: a Cloud SQL IAM database user;
https://cloud.google.com/sql/docs/postgres/add-manage-iam-users#grant-db-privileges). An external PostgreSQL role
is never made a member of the administrator (the administrator did not create it, and on PostgreSQL 16 may not
grant it), so it gets no default privileges FOR ROLE: the tables an external owner creates are the other functions'
to use through the cloud's own roles (Cloud SQL gives every function's IAM user pg_read_all_data and
pg_write_all_data, providers/gcp/database.py). Dropping an external role revokes its rights; the login, and the
tables it created, stay (the cloud manages the login).

Who runs them: `change` (create, correct and drop roles; the AWS setup function, the GCP post-apply step) and
`holders` (who holds a database's rights now, so a step may drop the roles of functions that are gone).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

AUTHS = ("password", "rds_iam", "external")
NAME_LIMITS = {"postgres": 63, "mysql": 32}
"""Longest role name per engine: PostgreSQL's NAMEDATALEN - 1; MySQL 8.0's user names (MariaDB allows 80)."""
ROW_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
OWNER_RIGHTS_MYSQL = "CREATE, INDEX, REFERENCES"
SCHEMA = "public"


@dataclass(frozen=True)
class Role:
    """One function's login role on one database.

    `name`: the role (see `role_name`); `database`: the database it may use; `owner`: it may create tables;
    `auth`: one of AUTHS.
    """

    name: str
    database: str
    owner: bool = False
    auth: str = "password"

    def __post_init__(self) -> None:
        if self.auth not in AUTHS:
            raise ValueError(f"auth must be one of {', '.join(AUTHS)}, not {self.auth!r}")


def role_name(*parts: str, engine: str = "postgres") -> str:
    """A role name from the function's (and, where several databases share a server, the database's) physical
    names: lower case, `[a-z0-9_]`, starting with a letter, at most NAME_LIMITS[engine] characters (longer names
    keep their start and end with 8 hex characters of their SHA-256, so they stay unique and recognisable)."""
    name = re.sub(r"[^a-z0-9_]+", "_", "__".join(parts).lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"r_{name}"
    limit = NAME_LIMITS[engine]
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('_')}_{digest}"


def group_name(database: str) -> str:
    """The PostgreSQL group role holding a database's row rights: `<database>_data`, shortened like role_name."""
    return role_name(database, "data")


def ident(name: str, engine: str) -> str:
    """A quoted identifier: "x" on PostgreSQL, `x` on MySQL."""
    quote = '"' if engine == "postgres" else "`"
    return quote + name.replace(quote, quote * 2) + quote


def literal(text: str, engine: str) -> str:
    """A quoted string literal (PostgreSQL with standard_conforming_strings; MySQL with backslash escapes)."""
    if engine == "mysql":
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + text.replace("'", "''") + "'"


def _account(role: Role) -> str:
    return f"{literal(role.name, 'mysql')}@'%'"


# -- PostgreSQL ------------------------------------------------------------------------------------------------
def _pg_create_if_missing(name: str, options: str) -> str:
    return (f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {literal(name, 'postgres')}) "
            f"THEN CREATE ROLE {ident(name, 'postgres')} {options}; END IF; END$$")


def _pg_grant_existing(relkind: str, rights: str, group: str) -> str:
    """GRANT on every table (relkind r, p) or sequence (S) of the schema that the administrator may grant on:
    `GRANT ... ON ALL TABLES` would fail on a table an owner role created, which already has the group's rights
    (default privileges) and which a non-superuser administrator cannot grant on."""
    kinds = "('r', 'p')" if relkind == "r" else f"('{relkind}')"
    return ("DO $$DECLARE rel record; BEGIN FOR rel IN SELECT c.oid::regclass AS name FROM pg_catalog.pg_class c "
            f"WHERE c.relkind IN {kinds} AND c.relnamespace = {literal(SCHEMA, 'postgres')}::regnamespace "
            "AND pg_catalog.pg_has_role(c.relowner, 'USAGE') "
            f"LOOP EXECUTE 'GRANT {rights} ON ' || rel.name || ' TO {group}'; END LOOP; END$$")


def database_statements(engine: str, database: str) -> list[str]:
    """What every role of `database` relies on, run once per database (idempotent) as its administrator, connected
    to it: nobody but the group may connect or use the schema; the group gets the rows of every table, now and
    later (tables the administrator creates, e.g. restored by a move). MySQL needs nothing per database."""
    if engine != "postgres":
        return []
    db, group, schema = ident(database, engine), ident(group_name(database), engine), ident(SCHEMA, engine)
    return [
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        _pg_create_if_missing(group_name(database), "NOLOGIN"),
        f"GRANT CONNECT ON DATABASE {db} TO {group}",
        f"GRANT USAGE ON SCHEMA {schema} TO {group}",
        _pg_grant_existing("r", ROW_RIGHTS, group), _pg_grant_existing("S", "USAGE, SELECT", group),
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {ROW_RIGHTS} ON TABLES TO {group}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {group}",
    ]


def role_statements(engine: str, role: Role, password: str | None = None, superuser: bool = True) -> list[str]:
    """Create or correct `role` so it has exactly its rights (idempotent; run after database_statements).

    `password`: for auth "password". `superuser`: whether the administrator running them is a superuser
    (RDS's and Cloud SQL's are not: they act as an owner role only while they are briefly its member).
    """
    if role.auth == "password" and not password:
        raise ValueError(f"role {role.name}: password authentication needs a password")
    if engine == "mysql":
        return _mysql_role(role, password)
    name, group, schema = ident(role.name, engine), ident(group_name(role.database), engine), ident(SCHEMA, engine)
    # A non-superuser may not even mention the superuser-only attributes (and could not have given them).
    limits = "LOGIN NOCREATEDB NOCREATEROLE INHERIT" + (" NOSUPERUSER NOREPLICATION NOBYPASSRLS" if superuser else "")
    statements = []
    if role.auth != "external":  # the cloud creates and manages the login itself (Cloud SQL IAM users)
        password_clause = f"PASSWORD {literal(password, engine)}" if password else "PASSWORD NULL"
        statements += [_pg_create_if_missing(role.name, "LOGIN"), f"ALTER ROLE {name} WITH {limits} {password_clause}"]
    if role.auth == "rds_iam":
        statements.append(f"GRANT rds_iam TO {name}")
    statements.append(f"GRANT {group} TO {name}")
    if role.owner:
        statements.append(f"GRANT CREATE ON SCHEMA {schema} TO {name}")
    if role.owner and role.auth != "external":  # see the module docstring for external roles
        if not superuser:  # PostgreSQL lets a role set default privileges only for roles it may act as
            statements.append(f"GRANT {name} TO CURRENT_USER")
        statements += [
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {name} IN SCHEMA {schema} GRANT {ROW_RIGHTS} ON TABLES TO {group}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {name} IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {group}",
        ]
        if not superuser:  # never stay a member: an rds_iam member must log in with IAM tokens
            statements.append(f"REVOKE {name} FROM CURRENT_USER")
    if not role.owner:
        statements.append(f"REVOKE CREATE ON SCHEMA {schema} FROM {name}")
    return statements


def _mysql_role(role: Role, password: str | None) -> list[str]:
    account = _account(role)
    if role.auth == "rds_iam":
        identified = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
    elif role.auth == "password":
        identified = f"IDENTIFIED BY {literal(password or '', 'mysql')}"
    else:
        identified = ""
    statements = []
    if role.auth != "external":
        statements += [f"CREATE USER IF NOT EXISTS {account} {identified}", f"ALTER USER {account} {identified}"]
    rights = ROW_RIGHTS + (f", {OWNER_RIGHTS_MYSQL}" if role.owner else "")
    statements += [f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}",
                   f"GRANT {rights} ON {ident(role.database, 'mysql')}.* TO {account}"]
    return statements


def drop_statements(engine: str, role: Role, superuser: bool = True) -> list[str]:
    """Remove `role`, keeping its data: on PostgreSQL the tables it created become the administrator's (run them
    connected to its database). An external role (a Cloud SQL IAM user) is only stripped of the rights this module
    gave it: the cloud manages the login, and the tables it created stay its own."""
    if engine == "mysql":
        if role.auth == "external":
            return [f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {_account(role)}"]
        return [f"DROP USER IF EXISTS {_account(role)}"]
    name = ident(role.name, engine)
    if role.auth == "external":
        return [f"REVOKE CREATE ON SCHEMA {ident(SCHEMA, engine)} FROM {name}",
                f"REVOKE {ident(group_name(role.database), engine)} FROM {name}"]
    statements = [] if superuser else [f"GRANT {name} TO CURRENT_USER"]
    statements += [f"REASSIGN OWNED BY {name} TO CURRENT_USER", f"DROP OWNED BY {name}", f"DROP ROLE {name}"]
    return statements


# -- running them ----------------------------------------------------------------------------------------------
def _execute(conn: Any, statements: Sequence[str]) -> None:
    cursor = conn.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
    finally:
        cursor.close()


def is_superuser(conn: Any, engine: str) -> bool:
    """Whether the connected administrator is a PostgreSQL superuser (MySQL: irrelevant, False)."""
    if engine != "postgres":
        return False
    cursor = conn.cursor()
    try:
        cursor.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return bool(row and row[0])


def role_exists(conn: Any, engine: str, name: str) -> bool:
    """Whether the login role (MySQL: the user at any host `%`) exists."""
    cursor = conn.cursor()
    try:
        if engine == "postgres":
            cursor.execute(f"SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {literal(name, engine)}")
        else:
            cursor.execute(f"SELECT 1 FROM mysql.user WHERE User = {literal(name, engine)} AND Host = '%'")
        return cursor.fetchone() is not None
    finally:
        cursor.close()


def ensure(conn: Any, engine: str, role: Role, password: str | None = None) -> None:
    """Give `role` exactly its rights (`conn`: a DB-API connection of the administrator to the role's database,
    not in autocommit mode). PostgreSQL runs it in one transaction (a failure changes nothing); MySQL commits each
    account statement implicitly, and the statements are idempotent, so running them again completes a failure."""
    try:
        superuser = is_superuser(conn, engine)
        _execute(conn, database_statements(engine, role.database)
                 + role_statements(engine, role, password, superuser=superuser))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def drop(conn: Any, engine: str, role: Role) -> None:
    """Drop `role` (its data stays), in one transaction; a role that does not exist is left alone."""
    try:
        if role_exists(conn, engine, role.name):
            _execute(conn, drop_statements(engine, role, superuser=is_superuser(conn, engine)))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def change(conn: Any, engine: str, ensure_roles: Sequence[Role] = (), drop_roles: Sequence[Role] = ()) -> None:
    """Drop `drop_roles` (their data stays), then give each of `ensure_roles` exactly its rights: what a setup
    step runs as the administrator (`conn`: connected to the roles' database). Each role is one transaction."""
    for role in drop_roles:
        drop(conn, engine, role)
    for role in ensure_roles:
        ensure(conn, engine, role)


def holders(conn: Any, engine: str, database: str) -> list[str]:
    """The roles holding `database`'s rights through this module, sorted: PostgreSQL, the members of its group
    (`group_name`); MySQL, the users at host `%` with privileges on the database (`mysql.db`)."""
    cursor = conn.cursor()
    try:
        if engine == "postgres":
            cursor.execute("SELECT r.rolname FROM pg_catalog.pg_auth_members m "
                           "JOIN pg_catalog.pg_roles r ON r.oid = m.member "
                           "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
                           f"WHERE g.rolname = {literal(group_name(database), engine)}")
        else:
            cursor.execute(f"SELECT DISTINCT User FROM mysql.db WHERE Db = {literal(database, engine)} "
                           "AND Host = '%'")
        found = sorted(str(row[0]) for row in cursor.fetchall())
    finally:
        cursor.close()
    conn.commit()  # end the read's transaction: the changes that follow each run in their own
    return found


__all__ = ["AUTHS", "NAME_LIMITS", "Role", "change", "database_statements", "drop", "drop_statements", "ensure",
           "group_name", "holders", "ident", "is_superuser", "literal", "role_exists", "role_name",
           "role_statements"]
