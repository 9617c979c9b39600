"""CI pipelines from the stack graph (`platform ci github|gitlab`): the dependency waves of each environment's
synthesized stacks become jobs, rendered for GitHub Actions or GitLab CI."""
