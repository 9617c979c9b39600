"""Acme's platform package: modules app teams compose, the profile environments point at, extra guardrails."""

from acme_platform.modules import DocsSite, NightlyExport

__version__ = "1.4.0"
__all__ = ["DocsSite", "NightlyExport", "__version__"]
