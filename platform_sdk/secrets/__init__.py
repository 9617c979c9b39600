"""Secret values, outside Terraform: which secrets an environment has, where their values live, whether they have
one, and making new ones. `platform secret`, `platform plan` and `platform apply` use it.

- `inventory`: every Secret of the estate in one environment (`SecretRef`: its cloud, the URL of its container,
  the functions reading it), found through placement and each plug-in's `secret_url`;
- `values`: reading a value from standard input (never an argument, never echoed), generating one, and asking the
  cloud whether each secret has a value (`value_states`), without reading it.

Values travel only through the plug-ins' secret clients (`platform_sdk.runtime.secrets.open_secret`): never printed,
never logged, never written to a file of ours.
"""
