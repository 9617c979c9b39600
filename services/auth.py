"""Auth microservice: sign-up and sign-in over HTTP, users in Postgres, password hashes never leave the database."""

from platform_sdk import Service
from platform_sdk.modules import ScheduledJob, ServiceWithDatabase

service = Service("auth", owner="identity-team", description="Accounts and sessions")

auth = service.add(ServiceWithDatabase(
    "api", names={"database": "users"}, handler="api.handle", source="functions/auth", memory=512,
    environment={"SESSION_TTL_SECONDS": "3600"},
))
cleanup = service.add(ScheduledJob("cleanup", handler="cleanup.run", source="functions/auth", cron="0 3 * * *"))
cleanup.uses(auth.database)
