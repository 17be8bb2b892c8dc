"""How a long `finetune` step tells the person waiting where it is and when it will end, on stderr.

One way for every step: a rich bar with the time left on a terminal, and a plain line every `every` seconds
otherwise (a log file, CI), so that nothing runs for minutes without a word. stdout stays for results and --json.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3.4 h', '6.1 days': what a person reads at a glance."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def time_left(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the pace so far, or None before anything is done."""
    return elapsed / done * (total - done) if done else None


class StepProgress:
    """`with StepProgress("finetune data", total, "facts") as p: ... p.advance(1, note="1,234 examples")`."""

    def __init__(self, what: str, total: int, unit: str, *, every: float = 30.0, console: Console | None = None):
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.console = console or Console(stderr=True)
        self.done, self.note = 0, ""
        self.bar: Progress | None = None
        self.started = self.last = time.perf_counter()

    def __enter__(self) -> "StepProgress":
        if self.console.is_terminal:
            self.bar = Progress(TextColumn(self.what), BarColumn(), MofNCompleteColumn(), TextColumn(self.unit),
                                TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TextColumn("left"),
                                TimeRemainingColumn(), console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=self.total, note="")
        self.started = self.last = time.perf_counter()
        return self

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        self.note = self.note if note is None else note
        if self.bar is not None:
            self.bar.update(self.task, advance=n, note=self.note)
        elif time.perf_counter() - self.last >= self.every:
            self.say()

    def say(self) -> None:
        """One plain line: done of total, the note, elapsed and the time left."""
        self.last = time.perf_counter()
        elapsed = self.last - self.started
        left = time_left(self.done, self.total, elapsed)
        self.console.print(f"{self.what}: {self.done:,}/{self.total:,} {self.unit}"
                           + (f", {self.note}" if self.note else "") + f"; {duration(elapsed)} so far"
                           + (f", about {duration(left)} left" if left is not None else ""), highlight=False)

    def close(self) -> None:
        """Take the bar away (before another bar starts; rich shows one at a time); again is a no-op."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        self.every = float("inf")
        sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        self.close()
