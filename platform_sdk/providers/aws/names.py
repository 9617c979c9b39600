"""AWS naming rules, checked before synthesis so a bad name fails with the workload's address, not at apply."""

from __future__ import annotations

import ipaddress
import re

_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_RDS_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]*$")
_LAMBDA_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
LAMBDA_NAME_MAX = 64  # also the IAM role name limit (roles are named like their function)
RDS_IDENTIFIER_MAX = 63
OAC_NAME_MAX = 64  # CloudFront origin access control names (named like their CDN)


def bucket_name_problems(name: str) -> list[str]:
    """Why `name` is not a valid S3 general purpose bucket name (empty when it is)."""
    problems: list[str] = []
    if not 3 <= len(name) <= 63:
        problems.append(f"{len(name)} characters (S3 allows 3 to 63)")
    if not _BUCKET_CHARS.match(name):
        problems.append("only lowercase letters, digits, '.' and '-' are allowed")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("must start and end with a letter or digit")
    if ".." in name:
        problems.append("two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
        problems.append("formatted like an IP address")
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            problems.append(f"the prefix {prefix!r} is reserved")
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            problems.append(f"the suffix {suffix!r} is reserved")
    return problems


def lambda_name_problems(name: str, longest_suffix: str = "") -> list[str]:
    """Lambda function (and IAM role, EventBridge rule) names: 1-64 of letters, digits, '-' and '_'."""
    problems: list[str] = []
    full = name + longest_suffix
    if len(full) > LAMBDA_NAME_MAX:
        what = f"{name!r}" + (f" plus {longest_suffix!r}" if longest_suffix else "")
        problems.append(f"{what} is {len(full)} characters (Lambda allows {LAMBDA_NAME_MAX})")
    if not _LAMBDA_NAME.match(name):
        problems.append(f"{name!r} has characters Lambda does not allow")
    return problems


def rds_identifier_problems(name: str) -> list[str]:
    """RDS instance identifiers: 1-63 lowercase letters, digits and hyphens, a letter first, no '--', no '-' last."""
    problems: list[str] = []
    if len(name) > RDS_IDENTIFIER_MAX:
        problems.append(f"{name!r} is {len(name)} characters (RDS allows {RDS_IDENTIFIER_MAX})")
    if not _RDS_IDENTIFIER.match(name) or "--" in name or name.endswith("-"):
        problems.append(f"{name!r} must be letters, digits and single hyphens, starting with a letter")
    return problems
