"""Auth microservice: sign-up and sign-in over HTTP, users in Postgres, password hashes never leave the database;
each sign-up queues a welcome message for the notifications service (services/notifications.py grants it).

Sessions are JSON Web Tokens signed with a key the platform generates per environment (`jwt-key`): its value is
in no file, no Terraform state and no plan; the function reads it at runtime with `secret("jwt-key")`.
"""

from platform_sdk import Secret, Service
from platform_sdk.modules import ScheduledJob, ServiceWithDatabase

service = Service("auth", owner="identity-team", description="Accounts and sessions")

auth = service.add(ServiceWithDatabase(
    "api", names={"database": "users"}, handler="api.handle", source="functions/auth", memory=512,
    environment={"SESSION_TTL_SECONDS": "3600"},
))
jwt_key = service.add(Secret("jwt-key", generate=True, length=64))
auth.reads(jwt_key)
cleanup = service.add(ScheduledJob("cleanup", handler="cleanup.run", source="functions/auth", cron="0 3 * * *"))
cleanup.uses(auth.database)
