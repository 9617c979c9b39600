"""CLI commands. Each module lists its commands in `COMMANDS`; `platform_sdk.cli` registers them on the app."""
