"""The CDK engine layer: the one CDKTF (or CDK Terrain) import and the raw constructs built on it.

Below the cloud plug-ins and synthesis: `engine` wraps the engine import, `raw` emits Terraform resources,
data sources and providers of any type without generated bindings.
"""
