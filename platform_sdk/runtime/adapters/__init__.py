"""Per-cloud entry adapters: each `make_entry("module.func")` returns that cloud's native entry callable.

aws_lambda -> `handler(event, context)`; gcp_functions -> a functions-framework target;
local -> `handler(event: dict) -> dict` for the local gateway. The generated entry module of a function
package imports exactly one of them.
"""
