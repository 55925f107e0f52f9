"""`dictate --forget`: removes the user's data, settings, cache and autostart entry, and nothing
else; asks first; refuses while the app runs or when a folder setting points somewhere unsafe."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dictate import config
from dictate.integration import APP_ID
from tests.conftest import REPO


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose every dictate folder lives under tmp_path, filled with data."""
    # Socket paths must stay short (~104 bytes), so not under pytest's long tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="dfg-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "XDG_DATA_HOME": str(tmp_path / "home" / ".local" / "share"),
        "XDG_CACHE_HOME": str(tmp_path / "home" / ".cache"),
        "DICTATE_DATA_DIR": str(tmp_path / "data"),
        "DICTATE_CONFIG_DIR": str(tmp_path / "config"),
        "DICTATE_CACHE_DIR": str(tmp_path / "cache"),
        "DICTATE_SOCKET": str(run_dir / "c.sock"),
        "HF_HUB_CACHE": str(tmp_path / "hf"),
    }
    (tmp_path / "home").mkdir()
    (tmp_path / "data" / "audio").mkdir(parents=True)
    (tmp_path / "data" / "history.sqlite3").write_bytes(b"SQLite format 3\0" + bytes(4000))
    (tmp_path / "data" / "audio" / "1.wav").write_bytes(bytes(200_000))
    config.save(config.Settings(model="tiny.en"), tmp_path / "config" / "settings.json")
    (tmp_path / "cache" / "converted" / "tiny.en-abc").mkdir(parents=True)
    for repo in ("models--openai--whisper-tiny.en", "models--someone--other-model"):
        (tmp_path / "hf" / repo / "snapshots").mkdir(parents=True)
        (tmp_path / "hf" / ".locks" / repo).mkdir(parents=True)
    yield env
    shutil.rmtree(run_dir, ignore_errors=True)


def dictate(
    env: dict[str, str], *args: str, answer: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dictate", *args],
        input=answer if answer is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def user_files(env: dict[str, str]) -> set[str]:
    """Every file and folder the fixture made, relative to the test's folder."""
    root = Path(env["DICTATE_DATA_DIR"]).parent
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def enable_autostart(env: dict[str, str]) -> Path:
    subprocess.run(
        [sys.executable, "-c", "from dictate.integration import autostart; autostart.enable()"],
        env=env,
        check=True,
        timeout=60,
    )
    path = Path(env["XDG_CONFIG_HOME"]) / "autostart" / f"{APP_ID}.desktop"
    assert path.is_file()
    return path


def test_forget_removes_everything_of_ours_and_keeps_models(home: dict[str, str]) -> None:
    entry = enable_autostart(home)
    done = dictate(home, "--forget", "--yes")
    assert done.returncode == 0, done.stderr
    for key in ("DICTATE_DATA_DIR", "DICTATE_CONFIG_DIR", "DICTATE_CACHE_DIR"):
        assert not Path(home[key]).exists(), key
        assert f"{home[key]}" in done.stdout  # says what it removed
    assert not entry.exists()
    assert "removed launch at login" in done.stdout
    # The shared Hugging Face cache is untouched without --include-models.
    hf = Path(home["HF_HUB_CACHE"])
    assert (hf / "models--openai--whisper-tiny.en" / "snapshots").is_dir()
    assert "--include-models" in done.stdout
    # A second run finds nothing.
    again = dictate(home, "--forget", "--yes")
    assert again.returncode == 0 and "nothing to forget" in again.stdout


def test_include_models_removes_only_catalog_models(home: dict[str, str]) -> None:
    done = dictate(home, "--forget", "--yes", "--include-models")
    assert done.returncode == 0, done.stderr
    hf = Path(home["HF_HUB_CACHE"])
    assert not (hf / "models--openai--whisper-tiny.en").exists()
    assert not (hf / ".locks" / "models--openai--whisper-tiny.en").exists()
    # Not one of dictate's models: another program's, so it stays.
    assert (hf / "models--someone--other-model" / "snapshots").is_dir()
    assert (hf / ".locks" / "models--someone--other-model").is_dir()


def test_asks_first_and_no_keeps_everything(home: dict[str, str]) -> None:
    before = user_files(home)
    for answer in ("n\n", "\n", ""):  # no, just Enter, and end of input
        done = dictate(home, "--forget", answer=answer)
        assert done.returncode == 1
        assert "Delete all of this?" in done.stdout and "nothing was deleted" in done.stdout
        assert user_files(home) == before
    done = dictate(home, "--forget", answer="y\n")
    assert done.returncode == 0, done.stderr
    assert not Path(home["DICTATE_DATA_DIR"]).exists()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no control socket here")
def test_refuses_while_the_app_runs(home: dict[str, str]) -> None:
    from dictate.control.ipc import ControlServer

    before = user_files(home)
    with ControlServer(lambda cmd, args: {"state": "ready"}, Path(home["DICTATE_SOCKET"])):
        done = dictate(home, "--forget", "--yes")
    assert done.returncode == 1
    assert "dictate is running" in done.stderr
    assert user_files(home) == before


def test_refuses_a_folder_setting_that_holds_home(home: dict[str, str]) -> None:
    # A slip such as DICTATE_DATA_DIR=~ must never delete the home folder.
    before = user_files(home)
    for bad in (home["HOME"], str(Path(home["HOME"]).parent), "/"):
        done = dictate({**home, "DICTATE_DATA_DIR": bad}, "--forget", "--yes")
        assert done.returncode == 1 and "refusing to delete" in done.stderr, done
        assert user_files(home) == before


def test_folders_inside_one_another_are_listed_once(
    home: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dictate.integration import forget

    data = Path(home["DICTATE_DATA_DIR"])
    monkeypatch.setenv("HOME", home["HOME"])
    monkeypatch.setenv("XDG_CONFIG_HOME", home["XDG_CONFIG_HOME"])
    monkeypatch.setenv("DICTATE_DATA_DIR", str(data))
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(data))  # as on macOS: one folder for both
    monkeypatch.setenv("DICTATE_CACHE_DIR", str(data / "Cache"))  # as on Windows: inside it
    (data / "Cache").mkdir()
    items = forget.plan()
    assert [item.path for item in items] == [data]
    assert items[0].what == "history and recorded audio, settings"


def test_usage_errors(home: dict[str, str]) -> None:
    assert dictate(home, "--yes").returncode == 2
    assert dictate(home, "--include-models").returncode == 2
    assert dictate(home, "--forget", "status").returncode == 2
    assert Path(home["DICTATE_DATA_DIR"]).is_dir()


@pytest.mark.parametrize("mirror", [False, True])
def test_include_models_deletes_a_real_cache_layout_through_huggingface_hub(
    mirror: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A model as huggingface_hub stores it (blobs, a snapshot of links to them, a ref): its
    own cache scan finds it and its deletion removes it; another program's model stays, also
    a mirror with the same commit (huggingface_hub deletes a hash in every repo holding it)."""
    from dictate.engine import loading
    from dictate.integration import forget

    hub = tmp_path / "hf"

    def cached(repo: str, payload: bytes, commit: str) -> Path:
        folder = hub / f"models--{repo.replace('/', '--')}"
        (folder / "blobs").mkdir(parents=True)
        (folder / "blobs" / "aa11").write_bytes(payload)
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(commit)
        snap = folder / "snapshots" / commit
        snap.mkdir(parents=True)
        (snap / "model.safetensors").symlink_to(Path("..", "..", "blobs", "aa11"))
        return folder

    other = "01234567" * 5 if mirror else "89abcdef" * 5
    ours = cached("openai/whisper-tiny.en", bytes(300_000), "01234567" * 5)
    theirs = cached("someone/other-model", bytes(10), other)
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("DICTATE_SOCKET", str(tmp_path / "c.sock"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(loading, "hub_cache_dir", lambda: hub)
    assert forget.run(include_models=True, assume_yes=True) == forget.EXIT_OK
    out = capsys.readouterr().out
    assert "model tiny.en (Hugging Face cache)" in out and "(0.3 MB)" in out
    assert not ours.exists()
    assert (theirs / "blobs" / "aa11").read_bytes() == bytes(10)
