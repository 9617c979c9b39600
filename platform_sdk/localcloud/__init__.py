"""The local cloud: a real Terraform provider written in Python (plus, elsewhere, the local runtime).

Kept import-free on purpose: the provider plugin imports this package before its handshake, and
the CLI imports `platform_sdk.localcloud.mirror` without paying for gRPC.
"""
