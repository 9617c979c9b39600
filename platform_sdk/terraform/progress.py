"""Progress of a Terraform run for people: a live table on a terminal, one line per phase change otherwise.

The only terraform module that imports rich: the runner reports phase changes through the `Progress`
protocol and interrupts through a callback, both built here by the commands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from platform_sdk.terraform import report as rp
from platform_sdk.terraform.report import StackResult
from platform_sdk.terraform.runner import Progress


class PlainProgress:
    """Non-TTY progress: one plain line per phase change (CI logs)."""

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.label = label
        self._lock = threading.Lock()

    def update(self, result: StackResult) -> None:
        took = f" ({result.elapsed:.1f}s)" if result.finished is not None and result.status != rp.RUNNING else ""
        with self._lock:
            self.console.print(f"{self.label} {result.name}: {result.phase}{took}",
                               highlight=False, markup=False, soft_wrap=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class LiveProgress:
    """TTY progress: a live table, one line per stack (stack, phase, elapsed)."""

    def __init__(self, console: Console, label: str, results: Iterable[StackResult]) -> None:
        self.results = list(results)
        self.label = label
        self.live = Live(console=console, refresh_per_second=8, transient=False, get_renderable=self._render)

    def _render(self) -> Group:
        table = Table(box=None, show_header=False, padding=(0, 1))
        for result in self.results:
            if result.status == rp.PENDING and not result.phase:
                continue
            style = {"failed": "red", "locked": "red", "interrupted": "yellow", "skipped": "yellow",
                     "waiting": "cyan", "running": "bold"}.get(result.status, "green")
            table.add_row(Text(result.name), Text(result.phase or result.status, style=style),
                          Text(f"{result.elapsed:5.1f}s", style="dim"))
        return Group(Text(self.label, style="dim"), table)

    def update(self, result: StackResult) -> None:
        pass  # the live display polls the results

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()


def default_progress(console: Console) -> Callable[[str, list[StackResult]], Progress]:
    """Live table on a terminal, plain lines otherwise (CI)."""
    def make(label: str, results: list[StackResult]) -> Progress:
        if console.is_terminal and not console.is_dumb_terminal:
            return LiveProgress(console, label, results)
        return PlainProgress(console, label)
    return make




def interrupt_notice(console: Console) -> Callable[[int, bool], None]:
    """Tell the user Terraform got the interrupt and that we wait for it to release its locks."""
    def notify(count: int, first: bool) -> None:
        if first:
            console.print(f"[bold yellow]Interrupt received:[/] sent SIGINT to {count} running "
                          "Terraform process(es); waiting for them to stop cleanly and release "
                          "their state locks...")
        else:
            console.print("[yellow]Still waiting for Terraform to exit cleanly (it is writing state "
                          "and releasing its lock).[/]")
    return notify
