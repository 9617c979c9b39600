"""A test-only fourth cloud, "nimbus": it implements buckets only, each a directory served by its own Terraform
provider (`provider.py`, on the PyPI `tf` framework, installed through the project's filesystem mirror).

It proves a new cloud is one folder: everything it needs is here, registered with `providers.register(PLUGIN)`.
Files: `plugin.py` (the plug-in: section, kinds, stateful types, its provider), `config.py` (`[clouds.nimbus]`),
`compiler.py` (configure + the one kind it has), `provider.py` (the Terraform provider itself).
"""
