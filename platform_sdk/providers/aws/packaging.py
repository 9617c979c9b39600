"""Lambda packages: which Linux wheels a function's dependencies are vendored as.

Lambda installs nothing, so the wheels are downloaded for the Lambda runtime (Linux, CPython of the
function's runtime version, binary wheels only) and unpacked into the package root. The glibc ceiling
follows the runtime's OS: python3.10/3.11 run on Amazon Linux 2 (glibc 2.26), so only wheels up to
manylinux_2_26 (manylinux2014 = 2_17 included) are accepted; python3.12+ run on Amazon Linux 2023
(glibc 2.34), so up to manylinux_2_28. (A manylinux_2_28 wheel on AL2 fails at import time, in
production, which is exactly what this avoids.) boto3 is not vendored: the Lambda runtime ships it.
Source: docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html (runtime OS per Python version).
"""

from __future__ import annotations

LAMBDA_GLIBC = {"3.10": (2, 26), "3.11": (2, 26)}
"""Lambda runtimes on Amazon Linux 2; every later Python runs on Amazon Linux 2023 (glibc 2.34)."""
AL2023_GLIBC = (2, 34)


def lambda_platforms(version: str, arch: str = "x86_64") -> list[str]:
    """pip --platform tags for the Lambda OS of this Python version, best (newest glibc) first."""
    glibc = LAMBDA_GLIBC.get(version, AL2023_GLIBC)
    ceiling = min(glibc[1], 28)  # wheels newer than manylinux_2_28 are rare; stay conservative
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(ceiling, 16, -1)]
    tags.append(f"manylinux2014_{arch}")  # pip expands this legacy alias to manylinux2010/manylinux1 too
    return tags
