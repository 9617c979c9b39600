"""Install checkov into its own venv before the test suite runs (`make test-tools`), so no test pays for it.

Uses the SDK's own installer (platform_sdk/gate/checkov.py: ensure_checkov), which is idempotent and
takes a lock; the location is $PLATFORM_TOOLS_DIR/checkov, else .platform/tools/checkov in this checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from platform_sdk.gate.checkov import CHECKOV_SPEC, ensure_checkov

REPO = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    exe = ensure_checkov(REPO / ".platform", log=lambda message: print(message, file=sys.stderr))
    print(f"{CHECKOV_SPEC}: {exe}")
