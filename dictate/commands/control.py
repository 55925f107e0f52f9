"""`dictate toggle | start | stop | cancel | status`: remote control of the running app.

A hotkey daemon (sxhkd, a GNOME custom shortcut, skhd) runs these on every key press, so this
module imports only the stdlib and `dictate.control.ipc`: never torch, transformers, numpy or
Qt. Success is silent (exit 0) except `status`, which prints one line, its key word first.
Failures are one `dictate: ...` line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dictate.control.ipc import send
from dictate.errors import DictateError

EXIT_OK, EXIT_FAILED = 0, 1
CLIENT_COMMANDS = ("toggle", "start", "stop", "cancel", "status")


def run(args: argparse.Namespace) -> int:
    command: str = args.command
    if command not in CLIENT_COMMANDS:  # a wiring mistake in cli.py, not a user error
        raise ValueError(f"not a control command: {command!r}")
    try:
        reply = send(command, timeout=getattr(args, "timeout", None) or 2.0)
    except DictateError as e:  # NotRunning says "dictate is not running (start it with ...)"
        print(f"dictate: {e}", file=sys.stderr)
        return EXIT_FAILED
    if not reply.get("ok"):
        print(f"dictate: {reply.get('error') or f'{command} failed'}", file=sys.stderr)
        return EXIT_FAILED
    if command == "status":
        print(status_line(reply))
    return EXIT_OK


def status_line(reply: dict[str, Any]) -> str:
    """The app's `status` reply as one line: the state word(s) first, so scripts can match the
    start (`ready`, `recording`, `transcribing`, `loading model`), then the app's detail, if any,
    after a colon: `recording: 3.2 s`."""
    state = str(reply.get("state") or "unknown")
    detail = reply.get("detail")
    return f"{state}: {detail}" if detail else state
