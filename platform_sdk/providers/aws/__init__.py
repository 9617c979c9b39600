"""The AWS plug-in (`plugin.py`): the compiler (one module per kind), its environment-file sections, state backend,
packaging, status, guardrails and checkov tables. Import-free, so its runtime subpackage stays cheap to import."""
