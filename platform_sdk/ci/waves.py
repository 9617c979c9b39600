"""Dependency waves: stacks grouped so that every stack's producers are in earlier waves.

A stack's wave is 0 without producers, else one more than its latest producer's (the longest path to it), so
the stacks of one wave never depend on each other and may be applied in parallel. Pure functions over the stack
graph that synthesis records (`platform.json`: stack -> the stacks it reads from).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from platform_sdk.errors import PlatformError


def wave_of(dependencies: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Stack -> its wave (0-based). Producers outside `dependencies` are ignored.

    Raises:
        PlatformError: the graph has a cycle (synthesis refuses those first; this names the stacks left).
    """
    deps = {name: sorted(d for d in set(found) if d in dependencies) for name, found in dependencies.items()}
    waves: dict[str, int] = {}
    while len(waves) < len(deps):
        ready = [name for name, found in deps.items()
                 if name not in waves and all(d in waves for d in found)]
        if not ready:
            left = ", ".join(sorted(set(deps) - set(waves)))
            raise PlatformError(f"the stacks {left} depend on each other in a cycle: no order to apply them in")
        for name in ready:
            waves[name] = max((waves[d] + 1 for d in deps[name]), default=0)
    return dict(sorted(waves.items()))


def waves(dependencies: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The stacks of each wave, in order, each wave sorted by name."""
    found = wave_of(dependencies)
    grouped: list[list[str]] = [[] for _ in range(max(found.values(), default=-1) + 1)]
    for name, wave in found.items():
        grouped[wave].append(name)
    return grouped


def wave_needs(dependencies: Mapping[str, Sequence[str]]) -> list[list[int]]:
    """For each wave, the earlier waves holding a producer of one of its stacks (sorted, without repeats)."""
    found = wave_of(dependencies)
    needs: list[set[int]] = [set() for _ in waves(dependencies)]
    for name, wave in found.items():
        needs[wave].update(found[d] for d in dependencies[name] if d in found)
    return [sorted(n) for n in needs]
