"""Re-decoding skipped speech (`longform.settle`), without a model: scripted decoders that skip
sentences the way Whisper does, and the engine's reporting of what stays without text."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dictate.engine import longform
from dictate.engine.longform import Gap, Window, settle, uncovered
from dictate.transcript import Segment

SR = 16000


class Speaker:
    """A recording's true sentences (absolute seconds) and a decoder that skips some of them.

    `skip[i] = n`: sentence i is left out of the first n timestamped decodes that contain it
    (Whisper jumping to the window's end); `mute` sentences never give text at all.
    """

    def __init__(self, sentences, skip=None, mute=(), from_the_middle=False, early=()):
        self.sentences = sentences
        self.skip = dict(skip or {})
        # `early`: sentence i is left out of timestamped decodes, and sentence i + 1's segment
        # starts where sentence i starts (its speech lies under the next one's time).
        self.early = set(early)
        self.mute = set(mute)
        self.from_the_middle = from_the_middle
        self.calls: list[tuple[float, float, bool]] = []

    def window(self, start: float, end: float) -> Window:
        regions = [(max(a, start) - start, min(b, end) - start) for a, b, _ in self.sentences]
        regions = [(a, b) for a, b in regions if b > a]
        return Window(np.zeros(round((end - start) * SR), np.float32), start, regions)

    def decode(self, windows: list[Window], timestamps: bool) -> list[list[Segment]]:
        rows = []
        for w in windows:
            self.calls.append((round(w.offset, 3), round(w.end, 3), timestamps))
            row = []
            for i, (a, b, text) in enumerate(self.sentences):
                if timestamps and a < w.offset < b <= w.end:  # the rest of a sentence cut short
                    row.append(Segment(0.0, round(b - w.offset, 3), " ".join(text.split()[1:])))
                    continue
                if i in self.mute or not (w.offset - 0.01 <= a and b <= w.end + 0.01):
                    continue
                if timestamps and i in self.early:
                    continue
                if timestamps and i - 1 in self.early and i > 0:
                    a = max(self.sentences[i - 1][0], w.offset)
                if timestamps and self.skip.get(i, 0) > 0:
                    self.skip[i] -= 1
                    if self.from_the_middle:  # the first half only, then a jump to the end
                        mid = (a + b) / 2
                        row.append(Segment(a - w.offset, mid - w.offset, text.split()[0]))
                    continue
                if timestamps:
                    row.append(Segment(round(a - w.offset, 3), round(b - w.offset, 3), text))
                else:
                    row.append(Segment(w.regions[0][0], w.regions[-1][1], text))
            rows.append(row)
        return rows


SENTENCES = [
    (0.5, 4.0, "one two three"),
    (5.0, 9.0, "four five six"),
    (10.0, 14.5, "seven eight nine"),
    (15.5, 19.0, "ten eleven twelve"),
]


def texts(items):
    return [i.text for i in items if isinstance(i, Segment)]


def test_every_sentence_covered_needs_no_second_decode():
    speaker = Speaker(SENTENCES)
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES]
    assert len(speaker.calls) == 1


def test_a_skipped_sentence_is_decoded_again_from_where_it_starts():
    speaker = Speaker(SENTENCES, skip={1: 1})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES]
    # The second decode starts in the pause before the skipped sentence, after the text kept.
    assert speaker.calls[1] == (pytest.approx(5.0 - longform.LEAD_S), 20.0, True)
    starts = [i.start for i in items]
    assert starts == sorted(starts)


def test_text_after_a_skip_is_not_doubled():
    """The segments after the skipped sentence come from the re-decode, once."""
    speaker = Speaker(SENTENCES, skip={0: 1})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES]


def test_a_sentence_cut_short_resumes_where_its_text_stopped():
    speaker = Speaker(SENTENCES, skip={2: 1}, from_the_middle=True)
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == ["one two three", "four five six", "seven", "eight nine",
                            "ten eleven twelve"]  # fmt: skip
    # Whisper's seek: the next decode starts at the end of the last segment it wrote.
    assert speaker.calls[1][0] == pytest.approx((10.0 + 14.5) / 2)


def test_speech_skipped_twice_is_decoded_alone_without_timestamps():
    speaker = Speaker(SENTENCES, skip={1: 5})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES]
    plain = [c for c in speaker.calls if not c[2]]
    assert plain == [(pytest.approx(5.0 - longform.LEAD_S), pytest.approx(9.0 + longform.LEAD_S),
                      False)]  # fmt: skip


def test_speech_that_never_gives_text_is_a_gap_in_its_place():
    speaker = Speaker(SENTENCES, mute={2})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert [type(i).__name__ for i in items] == ["Segment", "Segment", "Gap", "Segment"]
    gap = items[2]
    assert (gap.start, gap.end) == (pytest.approx(10.0), pytest.approx(14.5))
    assert len(speaker.calls) <= 4  # bounded: no decoder loop on speech that stays silent


def test_a_decoder_that_never_writes_anything_ends_with_gaps():
    speaker = Speaker(SENTENCES, mute={0, 1, 2, 3})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert items == [Gap(a, b) for a, b, _ in SENTENCES]
    assert len(speaker.calls) <= 3 * len(SENTENCES)


def test_a_batch_of_windows_is_settled_together_and_in_order():
    speaker = Speaker([*SENTENCES, (21.0, 25.0, "last one here")], skip={0: 1, 4: 1})
    batch = [speaker.window(0.0, 9.5), speaker.window(9.5, 20.0), speaker.window(20.0, 26.0)]
    items = list(settle(batch, speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES] + ["last one here"]
    # Round 1 decodes the three windows; round 2 only the two with skipped speech, together.
    assert [c[0] for c in speaker.calls[3:]] == [pytest.approx(0.5 - longform.LEAD_S),
                                                 pytest.approx(21.0 - longform.LEAD_S)]  # fmt: skip


def test_a_sentence_hidden_under_the_next_ones_time_is_decoded_alone_and_kept():
    """Whisper skips a sentence and starts the next one's timestamps early: a check by time sees
    no gap; the phrase under the start of that segment is decoded alone and its words kept."""
    speaker = Speaker(SENTENCES, early={1})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES]
    plain = [c for c in speaker.calls if not c[2]]
    assert plain == [(pytest.approx(5.0 - longform.LEAD_S), pytest.approx(10.0), False)]
    spans = [(i.start, i.end) for i in items]
    assert spans[1] == (pytest.approx(5.0), pytest.approx(9.0))
    assert spans[2][0] == pytest.approx(10.0)  # the next sentence now starts at its own speech
    starts = [a for a, _ in spans]
    assert starts == sorted(starts) and all(a <= b for a, b in spans)


def test_a_segment_over_two_phrases_that_holds_both_is_left_alone():
    """One segment over two phrases whose text holds the first: one check, nothing changes."""
    speaker = Speaker(SENTENCES)

    def decode(windows, timestamps):
        rows = speaker.decode(windows, timestamps)
        if timestamps and rows[0] and len(rows[0]) == 4:  # the first two sentences as one
            a, b = rows[0][0], rows[0][1]
            rows[0][:2] = [Segment(a.start, b.end, f"{a.text} {b.text}")]
        return rows

    items = list(settle([speaker.window(0.0, 20.0)], decode))
    assert texts(items) == ["one two three four five six", "seven eight nine", "ten eleven twelve"]
    assert [c for c in speaker.calls if not c[2]] == [(pytest.approx(0.5 - longform.LEAD_S),
                                                       pytest.approx(5.0), False)]  # fmt: skip


@pytest.mark.parametrize(
    ("phrase", "before", "segment", "expected"),
    [
        ("She had your dark suit", "", "She had your dark suit in greasy wash water", True),
        ("She had your dark suit", "", "And mister John Dashwood had then leisure", False),
        ("", "", "anything", True),  # the phrase alone said nothing
        ("shall I compare thee", "", "Shall I compare the to a summer's day?", True),
        # timestamps drifted: the phrase is at the end of the previous segment (seen on real speech)
        ("Call me back tomorrow.", "Please call me back tomorrow.", "The meeting moved", True),
        ("She had your dog suit", "ask what you can do for your country.", "Then you go", False),
    ],
)
def test_written_looks_at_the_start_of_its_segment_and_the_end_of_the_last(
    phrase, before, segment, expected
):
    assert longform.written(phrase, segment, before) is expected


def test_without_redecoding_the_first_decode_stands():
    speaker = Speaker(SENTENCES, skip={1: 1})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode, redecode=False))
    assert texts(items) == ["one two three", "seven eight nine", "ten eleven twelve"]


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        ([(0.5, 4.0)], None),  # covered
        ([], (0.5, 4.0, True)),  # a whole sentence without text
        ([(0.5, 1.5)], (1.8, 4.0, False)),  # text for its start only (EDGE_S after 1.5)
        ([(0.8, 3.5)], None),  # timestamps a little inside the speech: slack covers it
        ([(6.0, 8.0)], (0.5, 4.0, True)),  # text elsewhere does not cover it
    ],
)
def test_uncovered_finds_the_first_speech_without_text(segments, expected):
    regions = [(0.5, 4.0), (4.5, 4.8)]  # the second is too short to count alone
    found = uncovered([Segment(a, b, "x") for a, b in segments], regions)
    assert found == (pytest.approx(expected) if expected else None)


# ---- the engine reports what stays without text ---------------------------------------------


@pytest.fixture(scope="module")
def engine(random_model_dir):
    from dictate.engine.transcriber import Engine

    e = Engine(str(random_model_dir), device="cpu")
    e.load()
    return e


def test_engine_reports_gaps_in_order_and_in_long_dictations(engine, monkeypatch):
    from dictate.engine.options import TranscribeOptions

    def silent_model(windows, options, cancel, urgent, timestamps=True):
        return [[] for _ in windows]

    monkeypatch.setattr(engine, "_decode_windows", silent_model)
    audio = np.zeros(40 * SR, np.float32)
    gaps: list[Gap] = []
    options = TranscribeOptions(use_gate=False)
    assert list(engine.transcribe_long([audio], options, on_gap=gaps.append)) == []
    assert gaps and gaps[0].start == 0.0 and gaps[-1].end == pytest.approx(40.0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(gaps))
    result = engine.transcribe(audio, options)  # a dictation over one window
    assert result.text == "" and result.gaps == [(g.start, g.end) for g in gaps]
    assert not result.no_speech  # speech that gave no text is not "no speech"


def test_a_prompt_shortens_the_token_budget_to_fit_the_decoder(engine):
    from dictate.engine.options import TranscribeOptions

    route = engine._route(TranscribeOptions(prompt="ComfyUI, Kubernetes"), True, 440)
    assert len(route.prompt_ids) > 3 and route.max_new_tokens < 440
    assert len(route.prompt_ids) + 4 + route.max_new_tokens <= 448


@pytest.mark.slow
def test_a_full_window_with_a_prompt_fits_the_decoders_positions(engine):
    """Prompt + start tokens + a full window's token budget exceeded Whisper's 448 positions,
    and generate() refused the window (a --prompt on any file with a 30 s stretch of speech,
    or the previous text as prompt)."""
    from dictate.engine.options import TranscribeOptions

    t = np.arange(30 * SR) / SR
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    options = TranscribeOptions(use_gate=False, prompt="ComfyUI, Kubernetes", redecode=False)
    segments = list(engine.transcribe_long([audio], options))
    assert all(0.0 <= s.start <= s.end <= 30.0 for s in segments)
