"""Fuzzing (issue 6, point 4): damaged audio through the decoder, hostile settings files through
the loader, and hostile request lines through the control server, with hypothesis.

Each run is bounded by its number of examples (FUZZ_EXAMPLES, or $DICTATE_FUZZ_EXAMPLES to fuzz
longer locally); a watchdog ends the whole process with a traceback if one example hangs, even
inside C code, so a hang fails CI instead of stalling it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dictate import config
from dictate.audio.decode import SAMPLE_RATE, probe, stream_audio
from dictate.errors import AudioError

pytestmark = pytest.mark.slow  # bounded, but a minute: CI runs it, the quick loop does not

FUZZ_EXAMPLES = int(os.environ.get("DICTATE_FUZZ_EXAMPLES", "250"))
HANG_S = 30.0  # one example taking this long is a hang (a clean decode takes milliseconds)
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,  # timing is the watchdog's job; a busy CI machine is not a failure
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@contextlib.contextmanager
def watchdog(what: object) -> Iterator[None]:
    """Exit the process with every thread's traceback if the block takes longer than HANG_S."""
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


# --- the decoder --------------------------------------------------------------------------------


def _tone(rate: int, seconds: float, nch: int) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    x = 0.4 * np.sin(2 * np.pi * 440 * t)
    return x if nch == 1 else np.repeat(x[:, None], nch, axis=1)


def _seeds(folder: Path) -> dict[str, bytes]:
    """Small valid files of each kind the decoder reads; the fuzzer damages copies of them."""
    made = {
        "pcm16.wav": (16000, 1, {"subtype": "PCM_16"}),
        "float.wav": (44100, 2, {"subtype": "FLOAT"}),
        "u8.wav": (8000, 1, {"subtype": "PCM_U8"}),
        "adpcm.wav": (16000, 1, {"subtype": "IMA_ADPCM"}),
        "pcm24.flac": (48000, 2, {"subtype": "PCM_24"}),
        "vorbis.ogg": (22050, 1, {"format": "OGG", "subtype": "VORBIS"}),
        "opus.ogg": (48000, 1, {"format": "OGG", "subtype": "OPUS"}),
        "stereo.mp3": (44100, 2, {"format": "MP3"}),
        "pcm16.aiff": (16000, 1, {"format": "AIFF", "subtype": "PCM_16"}),
    }
    seeds = {}
    for name, (rate, nch, options) in made.items():
        path = folder / name
        sf.write(path, _tone(rate, 0.4, nch), rate, **options)
        seeds[name] = path.read_bytes()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:  # a container only ffmpeg reads
        src = folder / "pcm16.wav"
        dst = folder / "aac.m4a"
        cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", "aac", str(dst)]
        subprocess.run(cmd, check=True, timeout=60)
        seeds["aac.m4a"] = dst.read_bytes()
    return seeds


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _seeds(tmp_path_factory.mktemp("fuzz-seeds"))


def test_the_decoder_fuzz_damages_an_ffmpeg_container_too(seeds: dict[str, bytes]) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg missing: no M4A seed to fuzz (apt install ffmpeg; tests/setup.sh does)")
    assert "aac.m4a" in seeds


EXTENSIONS = ["wav", "flac", "ogg", "mp3", "aiff", "m4a", "webm", "bin", "txt", ""]


@dataclass(frozen=True)
class Case:
    seed: str
    data: bytes
    ext: str

    def __repr__(self) -> str:  # not 400 kB of bytes in a failure report
        digest = hashlib.sha1(self.data).hexdigest()[:12]
        return f"Case({self.seed} as .{self.ext}, {len(self.data)} bytes, sha1 {digest}, "
        f"starts {self.data[:48]!r})"


@st.composite
def damaged(draw: st.DrawFn, seeds: dict[str, bytes]) -> Case:
    """A seed file with a few damages (most of them in the header, where parsers trust sizes),
    saved under any extension; or plain random bytes."""
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(min_size=1, max_size=4096))
        return Case("random", data, draw(st.sampled_from(EXTENSIONS)))
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 6))):
        header = draw(st.booleans())
        pos = draw(st.integers(0, min(len(data), 128 if header else len(data)) - 1))
        op = draw(st.sampled_from(["flip", "word", "cut", "insert", "zeros"]))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "word":  # a size, rate or count field set to something extreme
            value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 44100]))
            data[pos : pos + 4] = value.to_bytes(4, draw(st.sampled_from(["little", "big"])))
        elif op == "cut":
            del data[max(1, pos) :]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[pos : pos + draw(st.integers(1, 512))] = bytes(512)[: len(data) - pos]
        if not data:
            data = bytearray(b"\0")
    ext = draw(st.sampled_from([name.rsplit(".", 1)[1]] * 3 + EXTENSIONS))
    return Case(name, bytes(data), ext)


def _check_decoded(path: Path) -> None:
    """probe and a full stream: a clean result, or one AudioError line naming the file."""
    try:
        info = probe(path)
        assert info.duration_s is None or info.duration_s >= 0
        total = 0
        for block in stream_audio(path, block_s=5.0):
            assert block.dtype == np.float32 and block.ndim == 1
            assert np.isfinite(block).all()
            total += block.size
        # A damaged size field must not turn a small file into hours of audio.
        assert total <= 600 * SAMPLE_RATE
    except AudioError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path)), message


def test_damaged_audio_gives_audio_or_one_clear_error(
    seeds: dict[str, bytes], tmp_path: Path
) -> None:
    @FUZZ
    @given(case=damaged(seeds))
    def fuzz(case: Case) -> None:
        path = tmp_path / (f"case.{case.ext}" if case.ext else "case")
        path.write_bytes(case.data)
        with watchdog(case):
            _check_decoded(path)

    fuzz()


# --- the settings loader ------------------------------------------------------------------------

FIELDS = [f.name for f in config.fields(config.Settings)]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "$(touch /tmp/pwned)",
            "`id`",
            "; rm -rf ~",
            "rm -rf ~\n",
            "\x1b[31m",
            "../../../../etc/passwd",
            "/etc/shadow",
            "http://example.com/model",
            "file:///etc/passwd",
            "<ctrl>+<alt>+d\n",
            "<ctrl>+<alt>+<del>",
            "\u202etxt.exe",
            "x" * 5000,
            "",
            " ",
        ]
    ),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        HOSTILE_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(HOSTILE_TEXT, inner, max_size=4)
    ),
    max_leaves=20,
)
SETTINGS_OBJECTS = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), HOSTILE_TEXT), JSON_VALUES, max_size=12
)


def _nested(depth: int) -> str:
    return '{"replacements": ' + "[" * depth + "]" * depth + "}"


SETTINGS_FILES = st.one_of(
    SETTINGS_OBJECTS.map(lambda o: json.dumps(o).encode()),  # NaN and Infinity included
    st.binary(max_size=2048),
    st.builds(lambda d: _nested(d).encode(), st.integers(1, 200_000)),
    st.builds(lambda o, cut: json.dumps(o).encode()[:cut], SETTINGS_OBJECTS, st.integers(0, 200)),
)


def test_any_settings_file_loads_to_valid_settings_that_save_and_load_back(
    tmp_path: Path,
) -> None:
    @FUZZ
    @given(data=SETTINGS_FILES)
    def fuzz(data: bytes) -> None:
        path = tmp_path / "settings.json"
        path.write_bytes(data)
        with watchdog("settings"):
            loaded, warnings = config.load(path)
        assert isinstance(loaded, config.Settings)
        assert all(isinstance(w, str) and "\n" not in w for w in warnings)
        again, problems = loaded.validated()
        assert problems == [] and again == loaded
        config.save(loaded, path)
        assert config.load(path) == (loaded, [])

    fuzz()


# --- the control server's request parser --------------------------------------------------------


def _expected_call(line: bytes) -> tuple[str, dict] | None:
    """The protocol, written out independently: the (command, args) a line must reach the app
    with, or None when the server must answer it alone."""
    from dictate.control.ipc import COMMANDS

    try:
        request = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(request, dict):
        return None
    version = request.get("v", 1)
    if isinstance(version, bool) or version != 1:
        return None
    command, args = request.get("cmd"), request.get("args")
    args = {} if args is None else args
    if command in COMMANDS and isinstance(args, dict):
        return command, args
    return None


def test_any_request_line_gets_a_reply_and_never_reaches_the_app_unchecked() -> None:
    from dictate.control.ipc import COMMANDS
    from dictate.control.server import ControlServer

    calls: list[tuple[str, dict]] = []

    def handler(command: str, args: dict) -> dict:
        calls.append((command, args))
        return {"seen": len(calls)}

    server = ControlServer(handler, Path("/nonexistent/unused.sock"))
    commands = st.one_of(
        st.sampled_from(COMMANDS), st.sampled_from(["ping", "quit", "show"]), HOSTILE_TEXT
    )
    requests = st.fixed_dictionaries(
        {"cmd": st.one_of(commands, commands, JSON_VALUES)},
        optional={"args": JSON_VALUES, "v": st.sampled_from([1, 1.0, 2, 0, True, "1", None])},
    )
    lines = st.one_of(
        st.binary(max_size=512),
        st.builds(
            lambda o: json.dumps(o).encode(),
            st.dictionaries(st.sampled_from(["cmd", "args", "v", "x"]), JSON_VALUES, max_size=4),
        ),
        st.builds(lambda o: json.dumps(o).encode(), requests),  # well-formed and nearly so
        st.builds(lambda o: json.dumps(o).encode(), requests),
        st.builds(lambda d: b"[" * d + b"]" * d, st.integers(1, 100_000)),
    )

    @FUZZ
    @given(line=lines)
    def fuzz(line: bytes) -> None:
        before = len(calls)
        with watchdog("request"):
            reply = server._handle_line(line)
        json.dumps(reply, allow_nan=False)  # always a valid reply line
        expected = _expected_call(line)
        if expected is not None:  # reaches the app exactly once, as sent, and the reply with it
            assert calls[before:] == [expected], line
            assert reply == {"ok": True, "seen": before + 1}, line
            return
        assert len(calls) == before, f"{line!r} reached the app"
        if reply["ok"]:
            assert json.loads(line)["cmd"] == "ping" and reply["pid"] == os.getpid(), line
        else:  # a reason for the sender, never the server tripping over its own input
            assert isinstance(reply["error"], str) and "\n" not in reply["error"]
            assert not reply["error"].startswith("internal error"), (line, reply)

    # Every command once as it should be sent, whatever the random draw holds (a draw with few
    # well-formed lines would prove little about what reaches the app).
    for command in COMMANDS:
        fuzz = example(line=json.dumps({"cmd": command, "v": 1}).encode())(fuzz)
    fuzz()
    reached = {command for command, _ in calls}
    assert reached >= set(COMMANDS), f"well-formed requests never reached the app: {reached}"
