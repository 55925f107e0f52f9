"""Random joins of every shared clip (tests/random_joins.py) through the live path (issue 23).

Recordings of the set dictated live at engine level: fed on the live thread as the recorder
feeds it, at three times the pace of speech, and one of them again at the pace of speech. Each
is compared with the whole recording decoded at release, as with live transcription off: no
piece lost, and text that reads like it: sentences unbroken at the joins (`broken_joins`), case
and punctuation (`cased_wer`), words. CI runs every fifth seed (`CI_SEEDS`, a fixed stride, not
chosen by results: 35 minutes of speech would take a quarter of CI's time);
`benchmarks/live_joins.py` measures all 30 and writes the README's table.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests import random_joins as rj
from tests.conftest import wer

SR = 16000
CI_SEEDS = range(0, 30, 5)  # every fifth seed: plain and stretched pauses alike
REAL_TIME = (5,)  # also dictated at the pace of speech (a stretched one)
SPEED = 3.0  # × the pace of speech


def live_text(engine, audio: np.ndarray, options, *, speed: float | None = None, settings=None):
    """A live dictation of `audio` (-> LiveResult) in 20 ms chunks: on the live thread at
    `speed` × the pace of speech, or (None) every step as soon as due on this thread (a
    machine that keeps up: the same steps on every run)."""
    from dictate.dictation.live import LiveTranscriber

    live = LiveTranscriber(lambda: engine, options, settings=settings)
    step = round(0.02 * SR)
    if speed is not None:
        live.start()
    t0 = time.perf_counter()
    for i in range(0, audio.size, step):
        live.feed(audio[i : i + step])
        if speed is None:
            live.poll(engine)
        elif (wait := t0 + (i + step) / SR / speed - time.perf_counter()) > 0:
            time.sleep(wait)
    return live.finish(audio)


@pytest.mark.slow
def test_live_text_of_random_joins_loses_nothing_and_reads_like_the_whole_recording(
    tiny_en_dir: Path, fixtures_dir: Path
) -> None:
    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

    engine = Engine(str(tiny_en_dir), device="cpu")
    engine.load()
    engine.warmup()
    options = TranscribeOptions()
    refs, cased, wholes, lives = [], [], [], []
    minutes, broken_whole, broken_live, lost, report = 0.0, 0, 0, [], []
    for seed, stretch in rj.recordings():
        if seed not in CI_SEEDS:
            continue
        rec = rj.build(seed, stretch, fixtures_dir)
        reference = rj.joined_cased_reference(rec)
        whole = engine.transcribe(rec.audio, options).text  # live off: the app's release path
        runs = [live_text(engine, rec.audio, options, speed=SPEED)]
        if seed in REAL_TIME:
            runs.append(live_text(engine, rec.audio, options, speed=1.0))
        for i, result in enumerate(runs):
            where = f"{rec.name}{' (real time)' if i else ''}"
            lost += [(where, k, rec.references[k]) for k in rj.lost_pieces(result.text, rec)]
        result = runs[0]
        refs.append(rec.reference)
        cased.append(reference)
        wholes.append(whole)
        lives.append(result.text)
        minutes += sum(e - s for s, e in engine.gate.regions(rec.audio)) / 60
        bw, bl = rj.broken_joins(whole, reference), rj.broken_joins(result.text, reference)
        broken_whole += bw
        broken_live += bl
        report.append(f"{rec.name}: broken {bw} → {bl}, joins {result.joins}: {result.text}")
    text = "\n".join(report)
    assert lost == [], (lost, text)
    reference, cased_ref = " ".join(refs), " ".join(cased)
    live_wer, whole_wer = wer(reference, " ".join(lives)), wer(reference, " ".join(wholes))
    live_cased = rj.cased_wer(cased_ref, " ".join(lives))
    whole_cased = rj.cased_wer(cased_ref, " ".join(wholes))
    figures = (
        f"speech {minutes:.1f} min; broken joins whole {broken_whole}, live {broken_live}; "
        f"WER whole {whole_wer:.3f}, live {live_wer:.3f}; "
        f"cased WER whole {whole_cased:.3f}, live {live_cased:.3f}"
    )
    print(figures)
    # Sentences read no worse at the joins than the whole recording's (measured 17 live, 19
    # whole over these six on 2026-12-07: the clips themselves end mid-sentence, so even the
    # whole recording has ~2.8 per minute). Issue 23's targets on case and words (cased WER
    # within 2 points, WER within 1 of the whole recording's: 27.2 vs 25.2 %, 15.2 vs 13.0 %
    # on the same run) are measured by benchmarks/live_joins.py, not gated here.
    assert broken_live <= broken_whole + 2, (figures, text)
