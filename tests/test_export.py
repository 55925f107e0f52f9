"""Transcript export: TXT, SRT, WebVTT and JSON, checked by parsing them back with real parsers."""

from __future__ import annotations

import html
import json
import os
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from dictate.export import FORMATS, render, would_replace, write
from dictate.transcript import Segment

SEGMENTS = [
    Segment(0.0, 1.5, " Hello world. "),
    Segment(1.5, 3.25, "café — naïve 😀"),
    Segment(3.25, 3.3, "   "),  # Whisper can emit an empty segment: no cue for it
    Segment(3723.456, 3725.0, "Over an hour in: 日本語, עברית."),
    Segment(36000.0, 36001.999, "ten hours"),
]
CUES = [  # (start s, end s, text) of the cues SEGMENTS should give
    (0.0, 1.5, "Hello world."),
    (1.5, 3.25, "café — naïve 😀"),
    (3723.456, 3725.0, "Over an hour in: 日本語, עברית."),
    (36000.0, 36001.999, "ten hours"),
]


def test_formats() -> None:
    assert FORMATS == ("txt", "srt", "vtt", "json")


# --- txt -------------------------------------------------------------------------------------


def test_txt_joins_stripped_texts_with_single_spaces() -> None:
    assert render(SEGMENTS, "txt") == (
        "Hello world. café — naïve 😀 Over an hour in: 日本語, עברית. ten hours\n"
    )


def test_txt_of_nothing_is_empty() -> None:
    assert render([], "txt") == ""
    assert render([Segment(0, 1, "  ")], "txt") == ""


# --- srt -------------------------------------------------------------------------------------


def test_srt_exact_text() -> None:
    assert render(SEGMENTS[:2], "srt") == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello world.\n\n"
        "2\n00:00:01,500 --> 00:00:03,250\ncafé — naïve 😀\n"
    )


def test_srt_parses_back() -> None:
    subs = list(srt.parse(render(SEGMENTS, "srt")))

    assert [s.index for s in subs] == [1, 2, 3, 4]  # numbered without gaps: empty one skipped
    assert [(s.start, s.end, s.content) for s in subs] == [
        (timedelta(seconds=a), timedelta(seconds=b), text) for a, b, text in CUES
    ]


def test_srt_times_over_an_hour() -> None:
    text = render(SEGMENTS, "srt")
    assert "01:02:03,456 --> 01:02:05,000" in text
    assert "10:00:00,000 --> 10:00:01,999" in text


@pytest.mark.parametrize(
    ("seconds", "clock"),
    [
        (0.0, "00:00:00,000"),
        (0.0004, "00:00:00,000"),
        (0.0006, "00:00:00,001"),
        (59.9996, "00:01:00,000"),  # rounding carries into the minutes
        (3599.9999, "01:00:00,000"),
        (-0.5, "00:00:00,000"),  # clamped: subtitles cannot start before the file does
        (100 * 3600 + 1.25, "100:00:01,250"),  # hours grow past two digits, never wrap
    ],
)
def test_srt_clock(seconds: float, clock: str) -> None:
    start = render([Segment(seconds, seconds + 1, "x")], "srt").splitlines()[1].split(" --> ")[0]
    assert start == clock


def test_end_before_start_is_clamped() -> None:
    (sub,) = srt.parse(render([Segment(5.0, 4.0, "backwards")], "srt"))
    assert sub.start == sub.end == timedelta(seconds=5)


def test_blank_lines_inside_a_segment_do_not_split_the_cue() -> None:
    segments = [Segment(0, 1, "first line\n\n  second line  \n"), Segment(1, 2, "next")]
    subs = list(srt.parse(render(segments, "srt")))
    assert [s.content for s in subs] == ["first line\nsecond line", "next"]
    captions = webvtt.from_string(render(segments, "vtt")).captions
    assert [c.text for c in captions] == ["first line\nsecond line", "next"]


def test_non_finite_times_are_refused() -> None:
    for fmt in ("srt", "vtt"):
        with pytest.raises(ValueError, match="finite"):
            render([Segment(float("nan"), 1.0, "x")], fmt)


# --- vtt -------------------------------------------------------------------------------------


def test_vtt_exact_text() -> None:
    assert render(SEGMENTS[:2], "vtt") == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.500\nHello world.\n\n"
        "00:00:01.500 --> 00:00:03.250\ncafé — naïve 😀\n"
    )


def test_vtt_parses_back() -> None:
    captions = webvtt.from_string(render(SEGMENTS, "vtt")).captions

    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:01.500"),
        ("00:00:01.500", "00:00:03.250"),
        ("01:02:03.456", "01:02:05.000"),
        ("10:00:00.000", "10:00:01.999"),
    ]
    assert [c.text for c in captions] == [text for _, _, text in CUES]


def test_vtt_escapes_markup() -> None:
    """Cue text is markup in WebVTT: "<", "&" must be escaped, and "-->" may not appear."""
    body = render([Segment(0, 1, "a <b> & c --> d")], "vtt")
    assert "a &lt;b&gt; &amp; c --&gt; d" in body
    (caption,) = webvtt.from_string(body).captions
    assert html.unescape(caption.text) == "a <b> & c --> d"


def test_vtt_of_nothing_is_just_the_header() -> None:
    assert render([], "vtt") == "WEBVTT\n"
    assert webvtt.from_string(render([], "vtt")).captions == []


# --- json ------------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    meta = {"file": "talk.m4a", "duration": 36002.0, "model": "distil-small.en", "path": Path("x")}
    body = render(SEGMENTS, "json", meta=meta)

    doc = json.loads(body)

    assert list(doc)[:2] == ["text", "segments"]
    assert doc["text"] == render(SEGMENTS, "txt").rstrip("\n")
    assert doc["segments"] == [
        {"start": s.start, "end": s.end, "text": s.text.strip()} for s in SEGMENTS
    ]
    assert {k: doc[k] for k in ("file", "duration", "model")} == {
        k: meta[k] for k in ("file", "duration", "model")
    }
    assert doc["path"] == "x"  # not JSON by nature: written as its text
    assert "café — naïve 😀" in body  # ensure_ascii=False: readable, not \\u escapes
    assert body.startswith('{\n  "text"') and body.endswith("}\n")  # pretty-printed


def test_json_times_are_rounded_to_milliseconds() -> None:
    doc = json.loads(render([Segment(1 / 3, 2 / 3, "x")], "json"))
    assert doc["segments"] == [{"start": 0.333, "end": 0.667, "text": "x"}]


def test_json_meta_cannot_replace_the_transcript() -> None:
    with pytest.raises(ValueError, match="text"):
        render(SEGMENTS, "json", meta={"text": "forged"})


def test_json_of_nothing() -> None:
    assert json.loads(render([], "json")) == {"text": "", "segments": []}


# --- formats and files -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["SRT", ".vtt", " json "])
def test_format_names_are_forgiving(fmt: str) -> None:
    assert render(SEGMENTS, fmt) == render(SEGMENTS, fmt.strip().lower().lstrip("."))


@pytest.mark.parametrize("fmt", ["docx", "", "sr"])
def test_unknown_format(fmt: str) -> None:
    with pytest.raises(ValueError, match="txt, srt, vtt, json"):
        render(SEGMENTS, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_is_utf8_and_leaves_no_temporary_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"

    result = write(SEGMENTS, fmt, target, meta={"file": "talk.wav"})

    assert result == target
    expected = render(SEGMENTS, fmt, meta={"file": "talk.wav"})
    assert target.read_bytes() == expected.encode("utf-8")  # no BOM, "\n" line ends everywhere
    assert os.listdir(tmp_path) == [target.name]


def test_write_accepts_a_str_path(tmp_path: Path) -> None:
    assert write(SEGMENTS, "txt", str(tmp_path / "a.txt")) == tmp_path / "a.txt"


def test_write_replaces_and_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old transcript\n")
    target.chmod(0o640)

    write(SEGMENTS, "txt", target)

    assert target.read_text(encoding="utf-8") == render(SEGMENTS, "txt")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = write(SEGMENTS, "txt", tmp_path / "new.txt")
    finally:
        os.umask(umask)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.srt"
    target.write_text("old\n")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write(SEGMENTS, "srt", target)

    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.srt"]  # the temporary file was removed


def test_unknown_format_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write(SEGMENTS, "docx", tmp_path / "out.docx")
    assert os.listdir(tmp_path) == []


def test_write_into_a_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write(SEGMENTS, "txt", tmp_path / "no" / "such" / "out.txt")


# --- what -o does not own: written through, never replaced -----------------------------------


def _reader(path: Path) -> tuple[threading.Thread, list[bytes]]:
    """A reader waiting on a FIFO, as `cat fifo` would be."""
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, got


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    thread, got = _reader(fifo)

    write(SEGMENTS, "txt", fifo, overwrite=False)  # not a file to protect: no FileExistsError

    thread.join(10)
    assert got == [render(SEGMENTS, "txt").encode("utf-8")]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]  # no temporary file left beside it


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_link_to_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to("pipe")
    thread, got = _reader(fifo)

    write(SEGMENTS, "srt", tmp_path / "link")

    thread.join(10)
    assert got == [render(SEGMENTS, "srt").encode("utf-8")]
    assert (tmp_path / "link").is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_character_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    """A null device of our own (1, 3), made in a temporary folder: never the real /dev/null."""
    if not hasattr(os, "mknod") or os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this container may not make device nodes")
    before = os.lstat(null)

    assert write(SEGMENTS, "json", null, meta={"file": "talk.wav"}) == null

    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == os.makedev(1, 3)
    assert after.st_ino == before.st_ino
    assert os.listdir(tmp_path) == ["null"]


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="no /dev/fd here")
def test_a_descriptor_path_writes_into_the_pipe_behind_it(tmp_path: Path) -> None:
    """`-o /dev/fd/N`, as process substitution `-o >(gzip > t.gz)` gives."""
    r, w = os.pipe()
    try:
        write(SEGMENTS, "txt", f"/dev/fd/{w}")
        os.close(w)
        w = -1
        with os.fdopen(r, "rb") as f:
            r = -1
            assert f.read() == render(SEGMENTS, "txt").encode("utf-8")
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="no /dev/fd here")
def test_a_descriptor_on_a_regular_file_is_appended_to_not_replaced(tmp_path: Path) -> None:
    """`dictate transcribe -o /dev/stdout f >> log`: the shell's file stays, with the text
    added at its end; renaming over the name would have cut the link to it."""
    log = tmp_path / "log"
    log.write_text("earlier line\n")
    inode = log.stat().st_ino
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        assert not would_replace(f"/dev/fd/{fd}")
        write(SEGMENTS, "txt", f"/dev/fd/{fd}", overwrite=False)
    finally:
        os.close(fd)
    assert log.read_text(encoding="utf-8") == "earlier line\n" + render(SEGMENTS, "txt")
    assert log.stat().st_ino == inode
    assert sorted(os.listdir(tmp_path)) == ["log"]


def test_dash_is_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    write(SEGMENTS, "vtt", "-")
    assert capfd.readouterr().out == render(SEGMENTS, "vtt")
    assert os.listdir(tmp_path) == []


def test_a_link_to_a_regular_file_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("old\n")
    link = tmp_path / "latest.txt"
    link.symlink_to("real.txt")

    write(SEGMENTS, "txt", link)

    assert link.is_symlink()
    assert (tmp_path / "real.txt").read_text(encoding="utf-8") == render(SEGMENTS, "txt")
    assert sorted(os.listdir(tmp_path)) == ["latest.txt", "real.txt"]


def test_without_overwrite_an_existing_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("mine\n")
    assert would_replace(target)

    with pytest.raises(FileExistsError):
        write(SEGMENTS, "txt", target, overwrite=False)

    assert target.read_text() == "mine\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_without_overwrite_a_new_file_is_written(tmp_path: Path) -> None:
    target = tmp_path / "new.srt"
    assert not would_replace(target)
    write(SEGMENTS, "srt", target, overwrite=False)
    assert target.read_text(encoding="utf-8") == render(SEGMENTS, "srt")
    assert os.listdir(tmp_path) == ["new.srt"]


def test_would_replace_only_regular_files(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to("nowhere")
    assert would_replace(tmp_path / "file")
    assert not would_replace(tmp_path / "nowhere")
    assert not would_replace(tmp_path / "dangling")  # a new file where the link points
    assert not would_replace("-")
    assert not would_replace("/dev/stdout")  # a descriptor: judged by its name alone
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        assert not would_replace(tmp_path / "fifo")


# --- properties ------------------------------------------------------------------------------

# Any text but surrogates and control characters other than "\n" (which subtitles cannot hold),
# and Unicode line separators (which the formats do not treat as line ends).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), whitelist_characters="\n"),
    max_size=40,
)
TIMES = st.floats(0, 400_000, allow_nan=False, allow_infinity=False)


def _clock(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _cue_text(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TIMES, TIMES, TEXT), max_size=6))
def test_srt_and_vtt_round_trip_any_text(rows: list[tuple[float, float, str]]) -> None:
    segments = [Segment(a, b, t) for a, b, t in rows]
    expected = [
        (round(a * 1000), max(round(a * 1000), round(b * 1000)), _cue_text(t))
        for a, b, t in rows
        if _cue_text(t)
    ]

    subs = list(srt.parse(render(segments, "srt")))
    assert [
        (s.start // timedelta(milliseconds=1), s.end // timedelta(milliseconds=1), s.content)
        for s in subs
    ] == expected

    captions = webvtt.from_string(render(segments, "vtt")).captions
    assert [html.unescape(c.text) for c in captions] == [text for _, _, text in expected]
    assert [(c.start, c.end) for c in captions] == [
        (_clock(start), _clock(end)) for start, end, _ in expected
    ]
