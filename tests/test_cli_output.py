"""`dictate transcribe` as a Unix tool: the -o rules, --overwrite, folders as inputs, outputs it
does not own (a FIFO, a device) written through, and the model taken from the settings.

The rules are checked on the pure functions and on the real command line, run with a stand-in
engine (tests/test_cli.py FAKE): these are about files, not words."""

from __future__ import annotations

import argparse
import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dictate.commands.transcribe import Source, _model_choice, expand_inputs, plan_outputs
from tests.test_cli import run_cli, run_fake

SR = 16000


def wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(round(seconds * SR), np.float32), SR)
    return path


def sources(*names: str) -> list[Source]:
    return [Source(n, Path(Path(n).name)) for n in names]


# --- -o rules (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.txt", "subs.SRT", "talk.vtt", "all.json"])
def test_several_inputs_refuse_an_output_that_looks_like_a_file(tmp_path, name):
    problems = plan_outputs(str(tmp_path / name), sources("a.wav", "b.wav"), "txt")
    assert isinstance(problems, list) and len(problems) == 1
    assert "looks like a file name" in problems[0] and "names a folder" in problems[0]
    assert os.listdir(tmp_path) == []  # nothing created


def test_several_inputs_refuse_an_existing_file(tmp_path):
    (tmp_path / "out").write_text("mine")
    problems = plan_outputs(str(tmp_path / "out"), sources("a.wav", "b.wav"), "txt")
    assert problems == [
        f"-o {tmp_path / 'out'}: not a folder; with several inputs -o names a "
        "folder (one file per input)"
    ]


def test_several_inputs_go_into_a_folder_named_after_each(tmp_path):
    plan = plan_outputs(str(tmp_path / "subs"), sources("x/a.wav", "b.mp3"), "srt")
    assert not isinstance(plan, list)
    assert plan.folder == tmp_path / "subs"
    assert plan.targets == [tmp_path / "subs" / "a.srt", tmp_path / "subs" / "b.srt"]


def test_a_trailing_slash_means_a_folder_even_with_an_extension(tmp_path):
    plan = plan_outputs(f"{tmp_path}/old.txt/", sources("a.wav", "b.wav"), "txt")
    assert not isinstance(plan, list)
    assert plan.targets[0] == tmp_path / "old.txt" / "a.txt"


def test_one_input_into_an_existing_folder(tmp_path):
    plan = plan_outputs(str(tmp_path), sources("talk.m4a"), "vtt")
    assert not isinstance(plan, list) and plan.targets == [tmp_path / "talk.vtt"]


def test_two_inputs_with_the_same_name_would_clash(tmp_path):
    problems = plan_outputs(str(tmp_path / "out"), sources("a/talk.wav", "b/talk.wav"), "txt")
    assert problems == [
        f"a/talk.wav and b/talk.wav would both be written to {tmp_path / 'out' / 'talk.txt'}"
    ]


def test_an_existing_output_needs_overwrite(tmp_path):
    (tmp_path / "talk.txt").write_text("mine")
    target = str(tmp_path / "talk.txt")
    assert plan_outputs(target, sources("talk.wav"), "txt") == [
        f"{target} exists; --overwrite replaces it"
    ]
    plan = plan_outputs(target, sources("talk.wav"), "txt", overwrite=True)
    assert not isinstance(plan, list) and plan.targets == [Path(target)]
    # the same inside a folder
    problems = plan_outputs(str(tmp_path), sources("talk.wav", "b.wav"), "txt")
    assert problems == [f"{tmp_path / 'talk.txt'} exists; --overwrite replaces it"]


def test_dash_is_stdout_and_stdout_needs_no_folder():
    assert plan_outputs("-", sources("a.wav"), "json").targets == []  # type: ignore[union-attr]
    assert plan_outputs(None, sources("a.wav", "b.wav"), "txt").targets == []  # type: ignore[union-attr]
    assert plan_outputs("-", sources("a.wav", "b.wav"), "srt") == [
        "several files in srt/vtt need -o FOLDER (one subtitle file per input)"
    ]


# --- folders as inputs (pure) ----------------------------------------------------------------


def test_folders_are_walked_as_the_window_does(tmp_path):
    wav(tmp_path / "rec" / "b.wav")
    wav(tmp_path / "rec" / "A.flac")
    wav(tmp_path / "rec" / "day 2" / "c.wav")
    wav(tmp_path / "rec" / ".hidden.wav")
    wav(tmp_path / "rec" / ".cache" / "d.wav")
    (tmp_path / "rec" / "notes.txt").write_text("not audio")
    folder = str(tmp_path / "rec")

    inputs = expand_inputs([folder, "other.wav"])

    assert [s.path for s in inputs.sources] == [
        os.path.join(folder, "A.flac"),
        os.path.join(folder, "b.wav"),
        os.path.join(folder, "day 2", "c.wav"),
        "other.wav",  # not a folder: kept as given, for the decoder to explain
    ]
    assert [s.rel for s in inputs.sources] == [
        Path("A.flac"),
        Path("b.wav"),
        Path("day 2", "c.wav"),
        Path("other.wav"),
    ]
    assert inputs.folder and not inputs.warnings
    assert all(s.error is None for s in inputs.sources)


def test_a_folder_with_nothing_to_transcribe_fails_like_a_bad_file(tmp_path):
    (tmp_path / "empty").mkdir()
    wav(tmp_path / "good.wav", 1)
    result = run_fake("transcribe", str(tmp_path / "empty"), str(tmp_path / "good.wav"))
    assert result.returncode == 1
    assert result.stderr == (
        f"dictate: {tmp_path / 'empty'}: is a directory with no audio or video files in it\n"
    )
    assert result.stdout == "\nwords to 1 s\n"  # its empty line keeps lines matching inputs


def test_a_folder_as_input_writes_into_a_folder_with_its_layout(tmp_path):
    wav(tmp_path / "rec" / "a.wav")
    one = expand_inputs([str(tmp_path / "rec")])
    assert plan_outputs(str(tmp_path / "one.txt"), one.sources, "txt", folder_input=True) == [
        f"-o {tmp_path / 'one.txt'} looks like a file name; with a folder as input -o names a "
        "folder (one file per input): add a / to mean a folder of that name"
    ]
    wav(tmp_path / "rec" / "day 2" / "a.wav")
    inputs = expand_inputs([str(tmp_path / "rec")])
    plan = plan_outputs(str(tmp_path / "out"), inputs.sources, "txt", folder_input=True)
    assert not isinstance(plan, list)
    assert plan.targets == [tmp_path / "out" / "a.txt", tmp_path / "out" / "day 2" / "a.txt"]


# --- the command line ------------------------------------------------------------------------


def test_o_file_with_two_inputs_is_refused_and_creates_nothing(tmp_path):
    a, b = wav(tmp_path / "a.wav"), wav(tmp_path / "b.wav")
    result = run_cli("transcribe", str(a), str(b), "-o", str(tmp_path / "out.txt"), timeout=60)
    assert result.returncode == 2
    assert "looks like a file name" in result.stderr and "Traceback" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "b.wav"]


def test_an_existing_output_is_kept_without_overwrite(tmp_path):
    talk = wav(tmp_path / "talk.wav")
    out = tmp_path / "talk.txt"
    out.write_text("my own notes\n")

    refused = run_fake("transcribe", str(talk), "-o", str(out))
    assert refused.returncode == 2
    assert refused.stderr == f"dictate: {out} exists; --overwrite replaces it\n"
    assert out.read_text() == "my own notes\n"

    replaced = run_fake("transcribe", str(talk), "-o", str(out), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_text() == "words to 1 s\n"


def test_a_folder_is_transcribed_into_a_folder(tmp_path):
    wav(tmp_path / "rec" / "a.wav", 40)
    wav(tmp_path / "rec" / "sub" / "b.wav")
    (tmp_path / "rec" / "notes.txt").write_text("not audio")

    result = run_fake("transcribe", str(tmp_path / "rec"), "-o", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "a.txt").read_text() == "words to 30 s words to 40 s\n"
    assert (tmp_path / "out" / "sub" / "b.txt").read_text() == "words to 1 s\n"
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["a.txt", "b.txt", "sub"]


def test_a_folder_to_stdout_gives_one_line_per_file_in_order(tmp_path):
    wav(tmp_path / "rec" / "b.wav", 2)
    wav(tmp_path / "rec" / "a.wav", 1)
    result = run_fake("transcribe", str(tmp_path / "rec"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "words to 1 s\nwords to 2 s\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_o_fifo_feeds_the_reader_and_stays_a_fifo(tmp_path):
    talk = wav(tmp_path / "talk.wav", 3)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()

    result = run_fake("transcribe", str(talk), "-o", str(fifo), "--format", "json")

    reader.join(10)
    assert result.returncode == 0, result.stderr
    assert json.loads(got[0])["text"] == "words to 3 s"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pipe", "talk.wav"]


def test_o_character_device_is_written_to_not_replaced(tmp_path):
    """Our own null device (1, 3) in a temporary folder, never the machine's /dev/null: the
    report was `-o /dev/null` as root turning /dev/null into a text file."""
    if not hasattr(os, "mknod") or os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this container may not make device nodes")
    talk = wav(tmp_path / "talk.wav")

    result = run_fake("transcribe", str(talk), "-o", str(null))  # no --overwrite needed

    assert result.returncode == 0, result.stderr
    st = os.lstat(null)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert sorted(os.listdir(tmp_path)) == ["null", "talk.wav"]


def test_o_dev_stdout_writes_into_the_pipe(tmp_path):
    talk = wav(tmp_path / "talk.wav")
    result = run_fake("transcribe", str(talk), "-o", "/dev/stdout", "--format", "srt")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n00:00:00,000 --> 00:00:01,000\nwords to 1 s\n"


# --- the model from the settings -------------------------------------------------------------


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"model": None, "device": None, "assistant": None, **kw})


def test_without_model_the_settings_choose(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text(
        json.dumps({"model": "large-v3", "device": "cpu", "assistant": "distil-large-v3"})
    )
    model, device, assistant, why = _model_choice(_args())
    assert (model, device, assistant) == ("large-v3", "cpu", "distil-large-v3")
    assert "settings" in why
    # the command line wins; a draft model the settings keep for another model is not used
    assert _model_choice(_args(model="tiny.en", device="auto"))[:3] == ("tiny.en", "auto", None)
    (tmp_path / "settings.json").write_text(json.dumps({"assistant": "distil-large-v3"}))
    assert _model_choice(_args())[:3] == (None, "auto", None)  # the catalog default
    assert capsys.readouterr().err == ""


def test_an_unreadable_settings_file_is_a_note_not_a_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text("{not json")
    assert _model_choice(_args())[0] is None
    err = capsys.readouterr().err
    assert err.startswith("dictate: note: settings file ") and "using the defaults" in err


def test_help_names_the_model_the_settings_choose(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"model": "tiny.en"}))
    shown = run_cli("--help", env={"DICTATE_CONFIG_DIR": str(tmp_path)}, timeout=60).stdout
    assert "Distil-Whisper" not in shown
    assert "The app's settings choose tiny.en" in " ".join(shown.split())
    default = " ".join(run_cli("--help", timeout=60).stdout.split())
    assert "the default is distil-large-v3 on a CUDA GPU" in default
    assert "this computer's" in default
