"""The benchmark audio: the shared recorded fixtures plus espeak-ng sentences of 1–10 s.

Generated clips are made once into a cache folder (espeak-ng is deterministic for a given
version, voice and text) and decoded like any file, by dictate's own decoder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
DEFAULT_FIXTURES = Path("/work/shared/fixtures/speech")
RECORDED = ("jfk.flac", "LDC93S1.wav", "hotwords.mp3")

# Dictation-like sentences, about 1, 2, … 10 s at espeak-ng's default rate (≈ 2.9 words/s).
SENTENCES = (
    "Send it now.",
    "Please call me back tomorrow.",
    "The meeting moved to Thursday at ten in the morning.",
    "Remind me to buy milk, bread and coffee on the way home tonight.",
    "I think the second draft reads better, but the title is still far too long for the cover.",
    "Could you check whether the invoice was paid before the end of last month, and let "
    "me know what you find?",
    "We should replace the old printer in the office, because it keeps jamming every morning "
    "and nobody knows how to fix it.",
    "The report shows that sales grew in every region except the north, where two large "
    "customers left at the start of the year and were not replaced.",
    "Let us move the launch to next week, so that the team has enough time to test the new "
    "payment screen properly and write down everything that still goes wrong.",
    "When you get a chance, write a short summary of the interview and send it to everyone "
    "who could not join the call today, with the list of open questions at the end of the "
    "message, before Friday.",
)


# More sentences for the word error rates only (one pass per engine, not timed): 13 clips are
# too few to tell two engines apart by a word or two.
WER_SENTENCES = (
    "Yes, that works for me.",
    "Cancel my three o'clock.",
    "Open a new document and call it budget.",
    "The train leaves at half past seven from platform four.",
    "Thanks for the quick reply, I will look at it this afternoon.",
    "Please add eggs, butter and flour to the shopping list.",
    "Our flight was delayed by two hours because of the storm.",
    "Can you send me the slides from yesterday's presentation?",
    "The new version fixes the crash when you close the window too quickly.",
    "I would like to book a table for four people on Saturday evening.",
    "Remember to water the plants while I am away next week.",
    "The doctor said I should rest for a few days and drink plenty of water.",
    "We need to hire two more engineers before the end of the quarter.",
    "Turn left at the second traffic light and the shop is on your right.",
    "My password expired again, so I could not log in this morning.",
    "The children walked to school together because the bus did not come.",
    "Please review the contract and tell me if anything looks wrong.",
    "It has been raining all week, and the garden is full of water.",
    "Let me know when you are free to talk about the design of the new website.",
    "The library closes early on Fridays, so return the books before four.",
    "Write a short note to thank the neighbours for feeding the cat.",
    "The meeting notes are in the shared folder, under this year's projects.",
    "If the server goes down again tonight, restart it and send me the logs.",
    "She bought a red bicycle, a helmet and a small bell for the handlebar.",
    "The price of coffee went up again, so we might switch to tea at the office.",
    "Before you leave, make sure every window is closed and the alarm is on.",
    "I spent the whole weekend painting the kitchen and fixing the old door.",
    "Tomorrow we will visit the museum in the morning and the park after lunch.",
    "Please move the weekly call to Wednesday, since Tuesday is a public holiday.",
    "The results of the survey will be published on the website next month.",
)


@dataclass
class Clip:
    """A clip decoded once (by dictate's decoder) and shared by every engine."""

    name: str
    audio: np.ndarray
    reference: str

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


def normalise(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (as in tests/conftest.py)."""
    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of the normalised texts."""
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis) or "<empty>"))


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """Word errors over all reference words (jiwer's corpus WER) of (reference, hypothesis)."""
    import jiwer

    refs = [normalise(r) for r, _ in pairs]
    hyps = [normalise(h) or "<empty>" for _, h in pairs]
    return float(jiwer.wer(refs, hyps))


def fixtures_dir() -> Path:
    return Path(os.environ.get("DICTATE_FIXTURES") or DEFAULT_FIXTURES)


def read_references(folder: Path) -> dict[str, str]:
    """file name → reference text, from references.tsv (tab-separated, with a header)."""
    rows = (folder / "references.tsv").read_text(encoding="utf-8").splitlines()[1:]
    refs = {}
    for row in rows:
        if row.strip():
            name, _duration, text = row.split("\t", 2)
            refs[name] = text.strip()
    return refs


def cache_dir() -> Path:
    path = Path(os.environ.get("DICTATE_CACHE_DIR") or tempfile.gettempdir()) / "benchmark-speech"
    path.mkdir(parents=True, exist_ok=True)
    return path


def espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    return match.group(1) if match else out.strip()


def synthesise(text: str, folder: Path | None = None) -> Path:
    """espeak-ng's WAV of `text` (default voice and rate), made once and cached."""
    folder = folder or cache_dir()
    key = hashlib.sha1(f"{espeak_version()}|{text}".encode()).hexdigest()[:12]
    path = folder / f"espeak-{key}.wav"
    if not path.exists():
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise RuntimeError("espeak-ng is not installed (apt install espeak-ng)")
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run([exe, "-w", str(tmp), text], check=True, capture_output=True)
        tmp.replace(path)
    return path


def generated_clips() -> list[Clip]:
    """The espeak-ng sentences, shortest first, named by their length."""
    from dictate.audio.decode import load_audio

    clips = []
    for text in SENTENCES:
        audio = load_audio(synthesise(text))
        clips.append(Clip(f"espeak {audio.size / SAMPLE_RATE:.1f} s", audio, text))
    return clips


def wer_clips() -> list[Clip]:
    """The extra sentences of WER_SENTENCES, spoken by espeak-ng."""
    from dictate.audio.decode import load_audio

    return [Clip(f"wer {i}", load_audio(synthesise(t)), t) for i, t in enumerate(WER_SENTENCES)]


def recorded_clips(names: tuple[str, ...] = RECORDED) -> list[Clip]:
    from dictate.audio.decode import load_audio

    folder = fixtures_dir()
    refs = read_references(folder)
    return [Clip(name, load_audio(folder / name), refs[name]) for name in names]


def dictation_clips(generated: bool = True) -> list[Clip]:
    """The recorded fixtures, then (if `generated`) the espeak-ng clips."""
    return recorded_clips() + (generated_clips() if generated else [])


def long_file(minutes: float = 10.0, pause_s: float = 1.0) -> tuple[np.ndarray, str]:
    """≥ `minutes` of speech for the file benchmark: every clip in turn with pauses, repeated;
    returns the audio and its reference text."""
    clips = dictation_clips()
    pause = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
    parts: list[np.ndarray] = []
    words: list[str] = []
    total = 0
    target = int(minutes * 60 * SAMPLE_RATE)
    while total < target:
        clip = clips[len(words) % len(clips)]
        parts += [clip.audio, pause]
        words.append(clip.reference)
        total += clip.audio.size + pause.size
    return np.concatenate(parts), " ".join(words)
