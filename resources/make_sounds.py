"""Generate the start / stop / error cues in resources/sounds (run after changing a recipe).

    python resources/make_sounds.py            # writes resources/sounds/*.wav
    python resources/make_sounds.py --check    # exit 1 if a committed file differs

Each cue is a short sum of soft sine tones, 16-bit mono: a rising two-note blip for start, the
same falling for stop, two low pulses for an error. A raised-cosine fade in and out on every note
keeps them from clicking, and the peak stays well under full scale so they are never harsh.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDS = Path(__file__).resolve().parent / "sounds"
RATE = 44100
PEAK = 0.3  # of full scale: audible over a quiet room, soft against speech
FADE_S = 0.008

# name -> notes as (start s, length s, frequency Hz)
RECIPES: dict[str, list[tuple[float, float, float]]] = {
    "start": [(0.0, 0.06, 659.25), (0.05, 0.07, 987.77)],  # E5 then B5
    "stop": [(0.0, 0.06, 987.77), (0.05, 0.07, 659.25)],  # B5 then E5
    "error": [(0.0, 0.055, 311.13), (0.075, 0.055, 311.13)],  # two low D#4 pulses
}


def _note(length_s: float, freq: float) -> np.ndarray:
    n = round(length_s * RATE)
    t = np.arange(n) / RATE
    # A touch of the octave makes it rounder than a bare sine on small laptop speakers.
    tone = np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(4 * np.pi * freq * t)
    fade = min(round(FADE_S * RATE), n // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    envelope = np.ones(n)
    envelope[:fade] = ramp
    envelope[n - fade :] = ramp[::-1]
    # A gentle decay over the note, like a struck bell, rather than a flat organ tone.
    envelope *= np.exp(-t / (length_s * 0.8))
    return tone * envelope


def synthesize(name: str) -> np.ndarray:
    """The cue as int16 samples at RATE."""
    placed = [(round(start * RATE), _note(length, freq)) for start, length, freq in RECIPES[name]]
    out = np.zeros(max(begin + len(note) for begin, note in placed))
    for begin, note in placed:
        out[begin : begin + len(note)] += note
    out *= PEAK / np.max(np.abs(out))
    return np.round(out * 32767).astype(np.int16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    SOUNDS.mkdir(exist_ok=True)
    stale = []
    for name in RECIPES:
        samples = synthesize(name)
        path = SOUNDS / f"{name}.wav"
        if args.check:
            # One step of rounding slack: libm's sin may differ in the last bit across platforms.
            if not path.is_file():
                stale.append(path)
                continue
            old, rate = sf.read(path, dtype="int16")
            if rate != RATE or old.shape != samples.shape or np.abs(old - samples).max() > 1:
                stale.append(path)
            continue
        sf.write(path, samples, RATE, subtype="PCM_16")
    for path in stale:
        print(f"out of date: {path}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
