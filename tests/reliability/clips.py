"""Generated test audio: silence and the noises a microphone hears when no one speaks.

Every clip is made from a seeded generator at test time (16 kHz mono float32); nothing is stored.
Levels are RMS in dBFS (a full-scale sine is -3 dBFS) unless a kind says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SR = 16000


def _scaled(x: np.ndarray, rms_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) or 1.0
    return (x * (10 ** (rms_dbfs / 20) / rms)).astype(np.float32)


def _shaped(rng: np.random.Generator, n: int, gain: Callable[[np.ndarray], np.ndarray]):
    """White noise filtered in the frequency domain by gain(frequencies in Hz)."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    spectrum *= gain(np.fft.rfftfreq(max(n, 2), 1 / SR))
    return np.fft.irfft(spectrum, max(n, 2))[:n]


def silence(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """Digital silence: every sample exactly 0 (a muted microphone)."""
    return np.zeros(n, np.float32)


def white(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """Flat-spectrum noise: a microphone preamp's hiss."""
    return _scaled(rng.standard_normal(n), level)


def pink(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """1/f noise (-3 dB per octave): room tone, fans, distant traffic."""
    x = _shaped(rng, n, lambda f: 1 / np.sqrt(np.maximum(f, 20.0)))
    return _scaled(x, level)


def hum(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and its first harmonics, over a little hiss."""
    f0 = rng.choice([50.0, 60.0])
    t = np.arange(n) / SR
    x = sum(
        (0.6**k) * np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 2 * np.pi))
        for k in range(6)
    )
    return _scaled(x + 0.01 * rng.standard_normal(n), level)


def clicks(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """Typing: short bright bursts (3-10 ms, decaying) at 4-12 keys a second; `level` is the
    loudest click's peak in dBFS."""
    x = 0.002 * rng.standard_normal(n)
    rate = rng.uniform(4, 12)
    at = 0.0
    while True:
        at += rng.exponential(1 / rate)
        start = int(at * SR)
        if start >= n:
            break
        length = int(rng.uniform(0.003, 0.010) * SR)
        burst = np.diff(rng.standard_normal(length + 1))  # differenced: high-frequency heavy
        burst *= np.exp(-np.arange(length) / (length / 4)) * rng.uniform(0.3, 1.0)
        end = min(n, start + length)
        x[start:end] += burst[: end - start]
    peak = float(np.abs(x).max()) or 1.0
    return (x * (10 ** (level / 20) / peak)).astype(np.float32)


def breathing(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """Breaths close to the microphone: band-limited noise (200-2500 Hz) under a slow swell,
    one breath in and out every 2.5-4 s."""
    x = _shaped(rng, n, lambda f: ((f > 200) & (f < 2500)) / np.sqrt(np.maximum(f, 1.0)))
    period = rng.uniform(2.5, 4.0)
    phase = rng.uniform(0, period)
    t = (np.arange(n) / SR + phase) % period / period
    envelope = np.sin(np.pi * np.clip(t / 0.4, 0, 1)) ** 2  # in: 40 % of the cycle
    envelope += 0.8 * np.sin(np.pi * np.clip((t - 0.45) / 0.5, 0, 1)) ** 2  # out
    return _scaled(x * (envelope + 0.02), level)


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[np.random.Generator, int, float], np.ndarray]
    levels: tuple[float, float]  # the range the level is drawn from (dBFS)


KINDS = (
    Kind("silence", silence, (0.0, 0.0)),
    Kind("white", white, (-60.0, -40.0)),
    Kind("pink", pink, (-60.0, -35.0)),
    Kind("hum", hum, (-50.0, -30.0)),
    Kind("clicks", clicks, (-30.0, -10.0)),  # peak
    Kind("breathing", breathing, (-55.0, -35.0)),
)


@dataclass(frozen=True)
class Clip:
    kind: str
    seconds: float
    level: float
    seed: int
    audio: np.ndarray

    def __str__(self) -> str:
        return f"{self.kind} {self.seconds:.2f} s at {self.level:.0f} dBFS (seed {self.seed})"


def no_speech_clips(count: int, seed: int = 6) -> list[Clip]:
    """`count` clips, the kinds taken in turn, lengths log-uniform in 0.05-8 s."""
    clips = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        kind = KINDS[i % len(KINDS)]
        seconds = float(np.exp(rng.uniform(np.log(0.05), np.log(8.0))))
        level = float(rng.uniform(*kind.levels))
        audio = kind.make(rng, round(seconds * SR), level)
        clips.append(Clip(kind.name, seconds, level, i, audio))
    return clips
