"""The local cloud plug-in (`plugin.py`): the compiler to `localcloud_*` resources, its section and status.
Import-free, so its runtime subpackage stays cheap to import."""
