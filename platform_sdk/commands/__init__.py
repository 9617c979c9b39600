"""CLI command groups. Each module registers its commands on `platform_sdk.cli.app` when imported."""
