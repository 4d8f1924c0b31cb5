"""Live progress on a terminal while the child walks its steps.

Under the report's header (printed here first, so the report leaves it out), a spinner that says what runs
("smoke: training a 2-hidden-layer MLP on spirals (cpu) ..."), a bar with the latest loss while the MLP trains, and
one line per finished step. Everything from the child is shown as plain text: never rich markup, never highlighted.
cli.py creates it only when stdout is a terminal and never with --json; it writes to the rich Console it is
handed, and the report itself is still rendered by envcheck.report.terminal afterwards.
"""

from __future__ import annotations

from typing import Any, Mapping

# (word, rich style) for a step's end state.
STATE_MARK = {"ok": ("done", "green"), "skip": ("skipped", "dim"), "error": ("error", "red")}
# What each step is doing, for the line that spins while it runs (the ids of envcheck.smoke.steps).
ACTIVITY = {
    "import-torch": "importing torch",
    "cuda-available": "asking torch whether CUDA is available",
    "device-count": "matching torch's GPUs with NVML's",
    "arch-list": "checking torch's kernels for the GPU architecture",
    "context": "creating a CUDA context and allocating memory",
    "matmul": "comparing a matrix product on the GPU with the CPU's",
    "train": "training a 2-hidden-layer MLP on spirals",
    "amp": "training the MLP in mixed precision",
    "save-load": "saving and loading the model",
    "forward-consistency": "comparing a forward pass on the GPU with the CPU's",
    "nccl": "all-reduce over NCCL",
    "bench-libraries": "listing the CUDA libraries loaded",
    "bench-matmul": "measuring matrix-product throughput",
    "bench-memory": "measuring device memory bandwidth",
    "bench-transfer": "measuring host <-> device bandwidth",
}


class LiveProgress:
    def __init__(self, console: Any, header: str | None = None) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        # markup=False: a step's item or an interpreter's path is outside text, never rich markup ("[red]").
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
            TextColumn("{task.fields[detail]}", markup=False), TimeElapsedColumn(), console=console, transient=True,
        )
        self.task: Any = None
        self.header = header

    def __enter__(self) -> LiveProgress:
        if self.header:  # the report's own first line, above the progress (the report then leaves it out)
            self._print((self.header, "bold"))
            self._print(("", ""))
        self.progress.start()
        # Until the child says hello (an interpreter starting, a container too) something must say what runs.
        self.task = self.progress.add_task("smoke: starting the target interpreter ...", total=None, detail="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @staticmethod
    def _label(event: Mapping[str, Any]) -> str:
        item = event.get("item")
        return f"smoke.{event.get('step')}" + (f" [{item}]" if item else "")

    @staticmethod
    def _activity(event: Mapping[str, Any]) -> str:
        """"smoke: training a 2-hidden-layer MLP on spirals (cpu) ...": what runs, on which device."""
        step, item = str(event.get("step")), event.get("item")
        from envcheck.report.safetext import printable

        return printable(f"smoke: {ACTIVITY.get(step, f'smoke.{step}')}" + (f" ({item})" if item else "") + " ...")

    def _print(self, *parts: tuple[str, str]) -> None:
        """One line of (text, style) parts, as plain text: no markup, no highlighting, and no escape sequence or
        control character of the child's (a path, a reason) reaches the terminal (report/safetext.py)."""
        from rich.text import Text

        from envcheck.report.safetext import printable

        self.progress.console.print(Text.assemble(*((printable(text), style) for text, style in parts)),
                                    highlight=False)

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "hello":
            self._drop()
            self._print((f"smoke: Python {event.get('version')} at {event.get('python')}", "dim"))
        elif kind == "start":
            self._drop()
            self.task = self.progress.add_task(self._activity(event), total=None, detail="")
        elif kind == "progress" and self.task is not None:
            self.progress.update(self.task, total=event.get("total"), completed=event.get("done"),
                                 detail=f"step {event.get('done')}/{event.get('total')}  loss {event.get('loss'):.4f}")
        elif kind == "end":
            self._drop()
            mark = STATE_MARK.get(str(event.get("state")), (str(event.get("state")), ""))
            note = f" ({event.get('reason')})" if event.get("state") == "skip" and event.get("reason") else ""
            took = float(event.get("duration_s") or 0)
            self._print(("  ", ""), mark, (f" {self._label(event)} {took:.2f} s{note}", ""))

    def _drop(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
