"""typeguard imported without `unittest.mock` (and the `asyncio` and `ssl` it imports): ~0.035 s of CPU per run.

The engine's Python modules (`cdktf`, jsii's generated type checks) import typeguard; typeguard 2.x imports
`unittest.mock.Mock` for a single test, `isinstance(value, Mock)` (a test double passes every type check). Nothing
else in a `platform` run imports `unittest.mock`. `import_typeguard()` imports typeguard while `unittest.mock` is a
stand-in whose `Mock` answers that test as the real class would: an object is an instance of it exactly when it is
an instance of the real `unittest.mock.Mock`, which needs the real module to have been imported by whoever made the
object. The stand-in is removed at once, so a later `import unittest.mock` imports the real module. A typeguard
that imports anything else from `unittest.mock` is imported as it always was.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _DeferredMockType(type):
    def __instancecheck__(cls, value: Any) -> bool:
        real = sys.modules.get("unittest.mock")
        return real is not None and not isinstance(real, _StandIn) and isinstance(value, real.Mock)


class _DeferredMock(metaclass=_DeferredMockType):
    """`unittest.mock.Mock` for `isinstance`, without importing `unittest.mock` until someone else does."""


class _StandIn(types.ModuleType):
    """The stand-in `unittest.mock` module while typeguard is imported."""


def import_typeguard() -> None:
    """Import typeguard (see the module's docstring); nothing to do if it or `unittest.mock` is already imported."""
    if "typeguard" in sys.modules or "unittest.mock" in sys.modules:
        return
    stand_in = _StandIn("unittest.mock")
    stand_in.Mock = _DeferredMock  # type: ignore[attr-defined]
    sys.modules["unittest.mock"] = stand_in
    try:
        import typeguard  # noqa: F401
    except ImportError:  # it wants more of unittest.mock: imported as usual below
        sys.modules.pop("typeguard", None)
    finally:
        if sys.modules.get("unittest.mock") is stand_in:
            del sys.modules["unittest.mock"]
    if "typeguard" not in sys.modules:
        import typeguard  # noqa: F401, F811
