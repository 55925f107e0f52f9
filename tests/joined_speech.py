"""Long recordings joined from the shared real-speech clips, with pauses between them.

One definition for the long-form tests and benchmarks: a person's long dictation or file is
sentences with pauses, so these exercise the windows, the cuts at pauses and the re-decoding of
skipped speech on real voices. Nothing is copied: the clips are read from the shared folder.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000

A = "more/austen_0{}.wav".format
# name → (clips in order, seconds of silence after each). hotwords.mp3 ("ComfyUI", which tiny.en
# writes "comfy eye" without a vocabulary prompt) only where no per-sentence bound applies.
JOINS: dict[str, tuple[tuple[str, ...], float]] = {
    # The reproducer: the first version lost the whole austen_0870 sentence.
    "reproducer": (("jfk.flac", A(870), A(890), "LDC93S1.wav", A(920), A(930)), 0.7),
    "reversed": (("LDC93S1.wav", A(930), A(920), A(890), A(880), A(870), "jfk.flac"), 0.7),
    "long-pauses": (
        (A(870), A(880), A(890), A(920), A(930), "jfk.flac", "LDC93S1.wav", "hotwords.mp3"),
        1.5,
    ),
    "short-pauses": (
        (
            "more/spontaneous_fillers.wav",
            "jfk.flac",
            A(920),
            "LDC93S1.wav",
            A(870),
            A(890),
            A(930),
            A(880),
        ),
        0.4,
    ),
    "sonnet-and-clips": (
        (
            "more/sonnet002.mp3",
            A(870),
            "jfk.flac",
            A(880),
            A(890),
            "LDC93S1.wav",
            A(920),
            "more/spontaneous_fillers.wav",
            A(930),
        ),
        1.0,
    ),
}
SONNETS = ("more/sonnet001.mp3", "more/sonnet002.mp3", "more/sonnet003.mp3")


@dataclass(frozen=True)
class Joined:
    """A joined recording: its audio, each sentence's reference and where it starts."""

    name: str
    audio: np.ndarray
    references: tuple[str, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]

    @property
    def reference(self) -> str:
        return " ".join(self.references)

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE

    @property
    def pieces(self) -> list[tuple[int, int, str]]:
        """Each piece as (first sample, end sample, reference text)."""
        return [
            (round(a * SAMPLE_RATE), round(b * SAMPLE_RATE), r)
            for a, b, r in zip(self.starts, self.ends, self.references, strict=True)
        ]


def references(folder: Path) -> dict[str, str]:
    """Reference text of every shared clip, keyed by its path below `folder`."""
    refs: dict[str, str] = {}
    for sub, prefix in ((folder, ""), (folder / "more", "more/")):
        with open(sub / "references.tsv", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                refs[prefix + row["file"]] = row["reference"]
    return refs


def join(folder: Path, names: tuple[str, ...], pause_s: float, name: str = "") -> Joined:
    """The clips decoded by dictate's own decoder, joined with `pause_s` of silence after each."""
    from dictate.audio.decode import load_audio

    refs = references(folder)
    pause = np.zeros(round(pause_s * SAMPLE_RATE), np.float32)
    parts, starts, ends, t = [], [], [], 0
    for clip_name in names:
        clip = load_audio(folder / clip_name)
        starts.append(t / SAMPLE_RATE)
        ends.append((t + clip.size) / SAMPLE_RATE)
        parts += [clip, pause]
        t += clip.size + pause.size
    return Joined(
        name or "+".join(names),
        np.concatenate(parts),
        tuple(refs[n] for n in names),
        tuple(starts),
        tuple(ends),
    )


def joined(folder: Path, name: str) -> Joined:
    names, pause = JOINS[name]
    return join(folder, names, pause, name)


def sentence_errors(joined: Joined, hypothesis: str) -> list[float]:
    """Each sentence's word error rate within the whole text's alignment (jiwer): a lost
    sentence scores 1.0 wherever the rest of the text lands, a doubled one adds insertions."""
    import jiwer

    from tests.conftest import normalise

    words = [normalise(r).split() for r in joined.references]
    owner = [i for i, w in enumerate(words) for _ in w]  # reference word → its sentence
    out = jiwer.process_words(" ".join(" ".join(w) for w in words), normalise(hypothesis) or "x")
    errors = [0] * len(words)
    for chunk in out.alignments[0]:
        if chunk.type in ("substitute", "delete"):
            for k in range(chunk.ref_start_idx, chunk.ref_end_idx):
                errors[owner[k]] += 1
        elif chunk.type == "insert":  # charged to the sentence of the word before it
            errors[owner[max(0, chunk.ref_start_idx - 1)]] += (
                chunk.hyp_end_idx - chunk.hyp_start_idx
            )
    return [e / len(w) for e, w in zip(errors, words, strict=True)]
