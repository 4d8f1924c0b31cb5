"""Live progress on a terminal while the child walks its steps.

A spinner per running step, a bar with the latest loss while the MLP trains, and one line per finished
step. cli.py creates it only when stdout is a terminal and never with --json; it writes to the rich Console
it is handed, and the report itself is still rendered by envcheck.report.terminal afterwards.
"""

from __future__ import annotations

from typing import Any, Mapping

STATE_MARK = {"ok": "[green]done[/]", "skip": "[dim]skipped[/]", "error": "[red]error[/]"}


class LiveProgress:
    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self.task: Any = None

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @staticmethod
    def _label(event: Mapping[str, Any]) -> str:
        from rich.markup import escape  # "[cpu]" is an item here, not a style tag

        item = event.get("item")
        return escape(f"smoke.{event.get('step')}" + (f" [{item}]" if item else ""))

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "hello":
            self.progress.console.print(f"[dim]Python {event.get('version')} at {event.get('python')}[/]")
        elif kind == "start":
            self._drop()
            self.task = self.progress.add_task(self._label(event), total=None, detail="")
        elif kind == "progress" and self.task is not None:
            self.progress.update(self.task, total=event.get("total"), completed=event.get("done"),
                                 detail=f"step {event.get('done')}/{event.get('total')}  loss {event.get('loss'):.4f}")
        elif kind == "end":
            from rich.markup import escape

            self._drop()
            mark = STATE_MARK.get(str(event.get("state")), str(event.get("state")))
            note = f" ({event.get('reason')})" if event.get("state") == "skip" and event.get("reason") else ""
            note = escape(note)
            took = float(event.get("duration_s") or 0)
            self.progress.console.print(f"  {mark} {self._label(event)} {took:.2f} s{note}")

    def _drop(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
