"""Where a renamed resource's blocks were: the address each had under the old name (synthesis records it in
`platform.json`; platform_sdk.terraform.renames moves the state)."""

from __future__ import annotations


def previous_address(address: str, new_name: str, old_name: str) -> str | None:
    """The address a block of a resource named `new_name` had when it was `old_name`: compilers name blocks after
    the neutral name, alone or followed by `_<suffix>` (`aws_s3_bucket.originals_bucket`). None for other blocks."""
    terraform_type, _, name = address.partition(".")
    if name == new_name:
        return f"{terraform_type}.{old_name}"
    if name.startswith(new_name + "_"):
        return f"{terraform_type}.{old_name}{name[len(new_name):]}"
    return None
