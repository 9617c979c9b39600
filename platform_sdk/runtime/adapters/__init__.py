"""What every entry adapter shares (`common`): handler loading, trigger filters, one log line per invocation.

The adapters themselves are cloud knowledge and live in the plug-ins: `platform_sdk.providers.<cloud>.runtime.adapter`,
each with `make_entry("module.func", base_dir=...)` returning that cloud's native entry callable.
`platform_sdk.runtime.entry.make_entry(target, ...)` finds the one for a target.
"""
