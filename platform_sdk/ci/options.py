"""The `platform ci` option values written into pipeline files, checked before anything is synthesized or written.

Each check raises PlatformError naming the option and the value (exit 2): a value the CI system would refuse, read
otherwise than meant, or that would break the file or a shell line is never written.
"""

from __future__ import annotations

import re

from platform_sdk.errors import PlatformError

MIN_PYTHON = (3, 11)
"""The oldest Python platform-sdk runs on (pyproject.toml `requires-python`)."""
PYTHON = re.compile(r"([1-9]\d*)\.(0|[1-9]\d*)")
TERRAFORM_RELEASE = re.compile(r"\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?")
"""A Terraform release's version as HashiCorp names its downloads (1.0.3, 1.6.0-beta1): what GitLab jobs install."""
_PART = r"(?:0|[1-9]\d*|[xX*])"
_COMPARATOR = rf"(?:[~^]|[<>]=?|=)?{_PART}(?:\.{_PART}(?:\.{_PART}(?:-[0-9A-Za-z.-]+)?)?)?"
TERRAFORM_RANGE = re.compile(rf"{_COMPARATOR}(?: +{_COMPARATOR})*(?: *\|\| *{_COMPARATOR}(?: +{_COMPARATOR})*)*")
"""What GitHub's hashicorp/setup-terraform installs a matching release for: a node-semver range (`1.5.7`, `~1.5`,
`>=1.5 <2.0`, `1.x`, `^1 || ~0.15`). The action passes `terraform_version` to `semver.validRange` and installs the
latest release for anything that is not a range (hashicorp/js-releases `getRelease`), so a typo would silently mean
`latest`: only this subset of the range grammar, or `latest` itself, is accepted."""
BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")
"""A branch name as git allows it (`git check-ref-format --branch`) without GitHub's filter-pattern characters
(`*`, `?`, `+`, `!`, `[`: https://docs.github.com/actions/writing-workflows/workflow-syntax-for-github-actions
#filter-pattern-cheat-sheet), which would make it a pattern matching other branches."""
_IMAGE_NAME = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = re.compile(rf"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?/)?{_IMAGE_NAME}(?:/{_IMAGE_NAME})*"
                   r"(?::\w[\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")
"""A container image reference, `[registry[:port]/]path[:tag][@digest]` (the grammar of
https://github.com/distribution/reference, reference.go)."""


def check(system: str, terraform: str, python: str, branch: str, image: str) -> None:
    """Every check below, in the order of the options' help; raises PlatformError for the first bad value."""
    check_branch(branch)
    check_python(python)
    check_terraform(system, terraform)
    check_image(image)


def check_terraform(system: str, version: str) -> None:
    """GitLab: one exact release (its jobs download that release when the image has no Terraform,
    gitlab.install_terraform). GitHub: `latest` or a range setup-terraform understands (TERRAFORM_RANGE)."""
    if system == "gitlab":
        if not TERRAFORM_RELEASE.fullmatch(version):
            raise PlatformError("GitLab jobs install one exact Terraform release", key="--terraform-version",
                                value=version, hint="e.g. --terraform-version 1.0.3")
    elif version != "latest" and not TERRAFORM_RANGE.fullmatch(version):
        raise PlatformError("not a Terraform version, range or `latest` (hashicorp/setup-terraform would install "
                            "the latest release instead)", key="--terraform-version", value=version,
                            hint="e.g. --terraform-version 1.0.3, ~1.5 or '>=1.5 <2.0'")


def check_python(version: str) -> None:
    """`X.Y`, at least MIN_PYTHON (what actions/setup-python installs; platform-sdk needs MIN_PYTHON)."""
    found = PYTHON.fullmatch(version)
    if found is None or (int(found[1]), int(found[2])) < MIN_PYTHON:
        least = ".".join(map(str, MIN_PYTHON))
        raise PlatformError(f"platform-sdk needs Python {least} or later, given as X.Y", key="--python",
                            value=version, hint=f"e.g. --python {least}")


def check_branch(branch: str) -> None:
    """A plain git branch name (BRANCH), no `..`, `//`, `@{`, no trailing `/`, `.` or `.lock` (git's rules)."""
    if (not BRANCH.fullmatch(branch) or ".." in branch or "//" in branch or branch.endswith(("/", ".", ".lock"))
            or "/." in branch):
        raise PlatformError("not a branch name (letters, digits, `.`, `_`, `-` and `/`, as git allows them)",
                            key="--branch", value=branch, hint="e.g. --branch main")


def check_image(image: str) -> None:
    """A container image reference (IMAGE)."""
    if not IMAGE.fullmatch(image):
        raise PlatformError("not a container image reference ([registry/]name[:tag][@digest])", key="--image",
                            value=image, hint="e.g. --image python:3.11")
