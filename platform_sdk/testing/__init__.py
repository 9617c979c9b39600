"""Testing helpers for app teams: a pytest plugin (fixture `platform`) and `platform test`.

See docs/testing-apps.md. The plugin module is `platform_sdk.testing.plugin` (pytest finds it through the
`pytest11` entry point); `LocalPlatform` is what the `platform` fixture gives a test.
"""

from platform_sdk.testing.environment import ApplyError, ThrowawayEnvironment
from platform_sdk.testing.local import LocalPlatform, Response
from platform_sdk.testing.scope import FunctionView

__all__ = ["ApplyError", "FunctionView", "LocalPlatform", "Response", "ThrowawayEnvironment"]
