"""`python -m platform_sdk`: the `platform` script (pyproject.toml `[project.scripts]`), where no script is installed
(e.g. a virtualenv's bin/ not on PATH). The same entry, so the same exit codes, Ctrl-C and early-closed output."""

from platform_sdk.console import main

main()
