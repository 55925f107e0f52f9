"""Reading a file's header through ffprobe's JSON, and the `ffmpeg -i` parse kept for an ffmpeg
that came without its ffprobe: both say the same about the same file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dictate.audio import ffmpeg
from dictate.errors import AudioError

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(
    FFMPEG is None or shutil.which("ffprobe") is None, reason="needs ffmpeg and ffprobe"
)


def encode(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    cmd = [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2.5"]
    subprocess.run([*cmd, *args, str(out)], check=True, timeout=60)
    return out


@pytest.fixture
def lone_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ffmpeg with no ffprobe beside it (as some static builds come)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    link = folder / "ffmpeg"
    link.symlink_to(FFMPEG)
    monkeypatch.setenv("DICTATE_FFMPEG", str(link))
    return str(link)


def test_ffprobe_is_the_one_beside_ffmpeg(lone_ffmpeg: str) -> None:
    assert ffmpeg.ffprobe_path(FFMPEG) == str(Path(FFMPEG).parent / "ffprobe")
    assert ffmpeg.ffprobe_path(lone_ffmpeg) is None  # not some other ffprobe from PATH


@pytest.mark.parametrize("name, args", [("a.m4a", ("-ac", "2", "-c:a", "aac")), ("b.mka", ())])
def test_ffprobe_and_the_ffmpeg_i_parse_agree(
    tmp_path: Path, lone_ffmpeg: str, name: str, args: tuple[str, ...], monkeypatch
) -> None:
    path = encode(tmp_path, name, "-ar", "22050", *args)
    monkeypatch.delenv("DICTATE_FFMPEG")
    probed = ffmpeg._ffmpeg_probe(path, FFMPEG)
    parsed = ffmpeg._ffmpeg_probe(path, lone_ffmpeg)  # no ffprobe: ffmpeg -i
    assert probed.sample_rate == parsed.sample_rate == 22050
    assert probed.channels == parsed.channels == (2 if args else 1)
    assert probed.duration_s == pytest.approx(2.5, abs=0.05)
    assert parsed.duration_s == pytest.approx(probed.duration_s, abs=0.011)


def test_ffprobe_errors_name_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(os.urandom(2000))
    with pytest.raises(AudioError, match=r"^.*junk\.m4a: .*(damaged|not a recognised)"):
        ffmpeg._ffmpeg_probe(junk, FFMPEG)
    video = tmp_path / "picture.mp4"
    cmd = [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x64"]
    subprocess.run([*cmd, "-c:v", "mpeg4", str(video)], check=True, timeout=60)
    with pytest.raises(AudioError, match=r"picture\.mp4: has no audio stream"):
        ffmpeg._ffmpeg_probe(video, FFMPEG)
