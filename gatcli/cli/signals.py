"""SIGTERM and SIGHUP end a run the way Ctrl-C does.

By default these signals kill the process at once, leaving a half-written temporary output
behind. With :func:`end_runs_cleanly` installed they raise :class:`Terminated` (a kind of
KeyboardInterrupt) in the main thread, so the same clean-up runs (temporary files removed,
a group of outputs not half renamed) and the command exits with 128 + the signal number,
as a shell reports a process killed by it. A signal the parent set to be ignored (``nohup``
ignores SIGHUP) stays ignored.
"""

from __future__ import annotations

import signal
from types import FrameType

from gatcli.io.atomic import defer_interrupt


class Terminated(KeyboardInterrupt):
    """A run ended by SIGTERM or SIGHUP; ``signum`` is the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _interrupt(signum: int, frame: FrameType | None) -> None:
    interrupt = KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
    if not defer_interrupt(interrupt):  # not inside a critical step of writing outputs
        raise interrupt


def end_runs_cleanly() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` (unless they are ignored), and
    let all three wait for the end of a critical step of writing outputs."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _interrupt)


def exit_code_of(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + (interrupt.signum if isinstance(interrupt, Terminated) else signal.SIGINT)


def interrupted_message(interrupt: KeyboardInterrupt) -> str:
    if isinstance(interrupt, Terminated):
        return f"interrupted by {interrupt.name}"
    return "interrupted"
