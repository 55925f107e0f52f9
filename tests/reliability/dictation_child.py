"""A dictating process for test_kill_cycles.py to SIGKILL: the app's core (history, session,
engine with its speech gate, clean-up), wired as dictate/app.py wires it, with a clip for the
microphone and files for windows. Not a test; run as a script.

    python dictation_child.py DATA_DIR MODEL_DIR CLIP.wav WINDOWS_DIR

At start it opens the history (the integrity check), loads the model, and recovers what a
previous run left unfinished, as the app does once its model is ready. Then each line on stdin
is a command: "dictate" records the clip (real time / 4, 20 ms chunks) and stops; "quit" ends.
Everything that happens is one line on stdout, flushed at once, so that the test knows where
the process was when it killed it:

    history ok | history <warning>        ready        recovering <id> ...
    event <state> <id> <message>          wrote <samples of this recording on disk>
    typed <id> <characters in its window>
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from dictate.dictation.history import History  # noqa: E402
from dictate.dictation.session import Event, Session, State  # noqa: E402
from dictate.engine.options import TranscribeOptions  # noqa: E402
from dictate.engine.transcriber import Engine  # noqa: E402
from dictate.output.inserter import InsertResult  # noqa: E402
from tests.reliability.pipeline import ClipRecorder  # noqa: E402

TYPE_DELAY_S = 0.01  # per character: xdotool's default is 12 ms


_out = threading.Lock()


def say(*words: object) -> None:
    """One whole line, flushed: several threads report, and print() writes piece by piece."""
    line = " ".join(map(str, words)) + "\n"
    with _out:
        sys.stdout.write(line)
        sys.stdout.flush()


class SlowWindow:
    """Types one character at a time, as `xdotool type` does, into WINDOWS/<dictation id>: a
    window per dictation, so that the test can tell whose characters are whose."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.dictation: int | None = None

    def insert(self, text: str) -> InsertResult:
        path = self.folder / str(self.dictation)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for i, char in enumerate(text, 1):
                os.write(fd, char.encode("utf-8"))
                say("typed", self.dictation, i)
                time.sleep(TYPE_DELAY_S)
        finally:
            os.close(fd)
        return InsertResult(True, "test", None, len(text) * TYPE_DELAY_S * 1000)


def main(data: Path, model: Path, clip_path: Path, windows: Path) -> None:
    history = History(data)
    say("history", history.warning or "ok")
    engine = Engine(str(model), device="cpu")
    engine.load()
    options = TranscribeOptions()
    clip, _ = sf.read(clip_path, dtype="float32")
    window = SlowWindow(windows)
    written = [0]  # samples of the current recording on disk

    def on_event(event: Event) -> None:
        if event.state is State.INSERTING:
            window.dictation = event.dictation_id
        say("event", event.state.value, event.dictation_id, event.message or "-")

    def on_chunk(chunk) -> None:
        session.on_audio(chunk)  # in the file (the kernel's page cache) when this returns
        written[0] += len(chunk)
        say("wrote", written[0])

    recorder = ClipRecorder(on_chunk, pace_s=0.005)  # 20 ms chunks, 4x real time
    session = Session(
        recorder=recorder,
        transcribe=lambda audio: engine.transcribe(audio, options),
        inserter=window,
        history=history,
        on_event=on_event,
        focused_window=lambda: None,
    )
    recovered = session.recover()
    say("recovering", *recovered)
    say("ready")
    for line in sys.stdin:
        command = line.strip()
        if command == "dictate":
            recorder.clip = clip
            written[0] = 0
            session.start()
            session.stop()  # waits for the whole clip: the key is released after speaking
        elif command == "quit":
            break
    session.shutdown(timeout=60)
    history.close()
    say("bye")


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:5]))
