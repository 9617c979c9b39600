"""Auth microservice: sign-up and sign-in over HTTP, users in Postgres, password hashes never leave the database."""

from platform_sdk import Database, Function, Service, http, schedule

service = Service("auth", owner="identity-team", description="Accounts and sessions")

users = service.add(Database("users", engine="postgres", size="small", storage_gb=20))

api = service.add(Function(
    "api",
    handler="api.handle",
    source="functions/auth",
    memory=512,
    triggers=[http()],
    environment={"SESSION_TTL_SECONDS": "3600"},
))
api.uses(users)

cleanup = service.add(Function(
    "cleanup",
    handler="cleanup.run",
    source="functions/auth",
    triggers=[schedule("0 3 * * *")],
))
cleanup.uses(users)
