"""Re-decoding skipped speech (`longform.settle`), without a model: scripted decoders that skip
sentences the way Whisper does, and the engine's reporting of what stays without text."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dictate.engine import coverage, longform
from dictate.engine.longform import Gap, Window, settle, uncovered
from dictate.transcript import Segment

SR = 16000


class Speaker:
    """A recording's true sentences (absolute seconds) and a decoder that skips some of them.

    `skip[i] = n`: sentence i is left out of the first n timestamped decodes that contain it
    (Whisper jumping to the window's end); `mute` sentences never give text at all.
    """

    def __init__(self, sentences, skip=None, mute=(), from_the_middle=False, early=(), hide=None):
        self.sentences = sentences
        # `hide[i] = j`: timestamped decodes write sentence i's text over the time of sentences
        # i…j and leave i+1…j out (the speech lies under one segment with too few words).
        self.hide = dict(hide or {})
        self.hidden = {k for i, j in self.hide.items() for k in range(i + 1, j + 1)}
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
                if timestamps and (i in self.early or i in self.hidden):
                    continue
                if timestamps and i in self.hide:
                    b = min(self.sentences[self.hide[i]][1], w.end)
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


# Sentences at a speaking rate (~2.5 words per second of speech), as the rate check expects.
SENTENCES = [
    (0.5, 4.0, "alpha bravo charlie delta echo foxtrot golf hotel"),
    (5.0, 9.0, "india juliet kilo lima mike november oscar papa"),
    (10.0, 14.5, "quebec romeo sierra tango uniform victor whiskey xray yankee"),
    (15.5, 19.0, "zulu red orange yellow green blue indigo violet"),
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
    third = SENTENCES[2][2].split()
    assert texts(items) == [SENTENCES[0][2], SENTENCES[1][2], third[0], " ".join(third[1:]),
                            SENTENCES[3][2]]  # fmt: skip
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
    speaker = Speaker(
        [*SENTENCES, (21.0, 25.0, "the last one here with words enough")], skip={0: 1, 4: 1}
    )
    batch = [speaker.window(0.0, 9.5), speaker.window(9.5, 20.0), speaker.window(20.0, 26.0)]
    items = list(settle(batch, speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES] + ["the last one here with words enough"]
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


def test_a_sentence_split_between_two_segments_times_is_decoded_from_its_own_start():
    """Whisper writes sentence 0 over half of sentence 1's speech and sentence 2 over the rest
    (seen on random joins: LDC93S1 lost between two pieces): the phrase under sentence 2's start
    is decoded from the start of its speech region, not from where the segment's time begins,
    so the whole of sentence 1 comes back between them."""
    speaker = Speaker(SENTENCES)

    def decode(windows, timestamps):
        rows = speaker.decode(windows, timestamps)
        if timestamps and windows[0].offset == 0.0 and len(rows[0]) == 4:
            s0, _, s2, s3 = rows[0]
            rows[0] = [Segment(s0.start, 7.0, s0.text), Segment(7.0, s2.end, s2.text), s3]
        return rows

    items = list(settle([speaker.window(0.0, 20.0)], decode))
    assert texts(items) == [s[2] for s in SENTENCES]
    plain = [c for c in speaker.calls if not c[2]]
    assert (pytest.approx(5.0 - longform.LEAD_S), pytest.approx(10.0), False) in plain, plain
    starts = [i.start for i in items]
    assert starts == sorted(starts)


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
    assert texts(items) == [
        f"{SENTENCES[0][2]} {SENTENCES[1][2]}",
        SENTENCES[2][2],
        SENTENCES[3][2],
    ]
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
    assert texts(items) == [SENTENCES[0][2], SENTENCES[2][2], SENTENCES[3][2]]


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

    def silent_model(windows, options, cancel, urgent, timestamps=True, encoded_out=None):
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


# ---- speech hidden under text: the rate check and the words' times --------------------------


def test_sentences_under_one_segment_with_too_few_words_are_decoded_alone():
    """Whisper writes one sentence over the time of three (the rest skipped): no gap by time,
    no hidden first phrase; the speaking rate gives it away and each piece is decoded alone."""
    speaker = Speaker(SENTENCES, hide={0: 2})
    items = list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert texts(items) == [s[2] for s in SENTENCES]
    spans = [(i.start, i.end) for i in items]
    assert [a for a, _ in spans] == sorted(a for a, _ in spans)
    assert spans[:3] == [(pytest.approx(a), pytest.approx(b)) for a, b, _ in SENTENCES[:3]]


def test_a_segment_at_a_speaking_rate_is_not_decoded_again():
    speaker = Speaker(SENTENCES)
    list(settle([speaker.window(0.0, 20.0)], speaker.decode))
    assert speaker.calls == [(0.0, 20.0, True)]


DENSE = [
    (0.5, 4.0, "a b c d e f g h i j k l m n o p q r"),  # a fast talker: 18 words
    (4.6, 6.6, "short one said here"),
    (8.0, 12.0, "and the last sentence comes after a pause"),
]


def locate_from(sentences):
    """The words' times as an alignment would give them: spread over the speech of the
    sentence each text belongs to (a text that starts one sentence and ends in no other)."""

    def locate(window, texts):
        out = []
        for text in texts:
            a, b, _ = next(s for s in sentences if s[2].split()[0] == text.split()[0])
            n = len(text.split())
            out.append([a - window.offset + (b - a) * k / n for k in range(n)])
        return out

    return locate


def test_a_region_no_word_was_spoken_in_is_decoded_alone_and_put_in_its_place():
    """A short sentence under a dense one's time: the rate stays plausible (22 words over
    5.5 s), but by the words' times none was spoken in its region."""
    speaker = Speaker(DENSE, hide={0: 1})
    items = list(settle([speaker.window(0.0, 13.0)], speaker.decode))
    assert texts(items) == [DENSE[0][2], DENSE[2][2]]  # the rate check alone misses it
    speaker = Speaker(DENSE, hide={0: 1})
    items = list(settle([speaker.window(0.0, 13.0)], speaker.decode, locate=locate_from(DENSE)))
    assert texts(items) == [s[2] for s in DENSE]
    assert [i.start for i in items] == sorted(i.start for i in items)
    # The last decode: the region alone (the one before it is the phrase check's, which finds
    # the first phrase in its segment).
    assert speaker.calls[-1] == (
        pytest.approx(4.6 - longform.LEAD_S),
        pytest.approx(6.6 + longform.LEAD_S),
        False,
    )


def test_words_spoken_in_every_region_need_no_second_decode():
    speaker = Speaker(DENSE)
    items = list(settle([speaker.window(0.0, 13.0)], speaker.decode, locate=locate_from(DENSE)))
    assert texts(items) == [s[2] for s in DENSE]
    assert speaker.calls == [(0.0, 13.0, True)]


def test_a_region_without_words_that_gives_nothing_alone_is_a_gap():
    speaker = Speaker(DENSE, hide={0: 1}, mute={1})
    items = list(settle([speaker.window(0.0, 13.0)], speaker.decode, locate=locate_from(DENSE)))
    assert texts(items) == [DENSE[0][2], DENSE[2][2]]
    assert [i for i in items if isinstance(i, Gap)] == [Gap(4.6, 6.6)]


def test_text_alone_that_the_words_near_it_hold_is_not_written_twice():
    """The alignment put a sentence's words early; decoded alone, its region gives the same
    words: nothing is added."""
    speaker = Speaker(DENSE)

    def early(window, texts):
        times = locate_from(DENSE)(window, texts)
        return [[t - 1.5 for t in ts] if text.startswith("short") else ts
                for text, ts in zip(texts, times, strict=True)]  # fmt: skip

    items = list(settle([speaker.window(0.0, 13.0)], speaker.decode, locate=early))
    assert texts(items) == [s[2] for s in DENSE]


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("The horizon seems extremely distant.", 25.6, 39.3, True),  # the segment
        ("He was not an ill disposed young man.", 25.6, 29.0, False),
        ("Yes.", 0.0, 1.5, False),  # too little speech to judge
        ("Yes.", 0.0, 10.0, False),  # 10 s of time, but only the region's speech counts
    ],
)
def test_sparse_judges_words_per_second_of_speech(text, start, end, expected):
    regions = [(0.2, 1.4), (25.6, 29.0), (29.5, 33.0), (34.0, 39.3)]
    assert coverage.sparse(text, start, end, regions) is expected


def test_pieces_are_cut_at_the_longest_pauses_and_kept_short():
    regions = [(0.0, 3.0), (3.2, 6.0), (7.0, 9.5), (9.6, 12.0), (12.1, 12.3), (13.0, 15.0)]
    got = coverage.pieces(0.0, 15.0, regions)
    assert got == [(0.0, 6.0), (7.0, 15.0)]  # cut at the 1 s pause; 8 s is short enough
    assert all(b - a <= coverage.MAX_PIECE_S for a, b in got)
    assert coverage.pieces(1.0, 2.0, regions) == [(1.0, 2.0)]  # clipped to the span
    many = [(float(i), i + 0.6) for i in range(40)]  # 40 s of short phrases
    assert len(coverage.pieces(0.0, 40.0, many)) <= coverage.MAX_PIECES


@pytest.mark.parametrize(
    ("alone", "text", "before", "expected"),
    [
        # the pieces hold what the text lacks: they replace it
        (["The horizon seems extremely distant.", "one two three four", "The sun set."],
         "The horizon seems extremely distant.", "",
         ["The horizon seems extremely distant.", "one two three four", "The sun set."]),
        # nothing new (fillers do not count): the text stays
        (["Well,", "um", "uh"], "Well.", "", None),
        (["The horizon seems", "extremely distant."], "The horizon seems extremely distant.", "",
         None),
        # the first piece is the previous segment's end (timestamps drift): left out
        (["ask what you can do for your country.", "one two three four five"], "Five.",
         "And so ask what you can do for your country.", ["", "one two three four five"]),
        # a piece gives nothing alone: the text stays there, the new piece after it
        (["", "one two three four"], "The horizon seems extremely distant.", "",
         ["The horizon seems extremely distant.", "one two three four"]),
    ],
)  # fmt: skip
def test_better_replaces_text_only_with_pieces_that_add_words(alone, text, before, expected):
    assert coverage.better(alone, text, before) == expected


def test_dtw_follows_the_cheapest_monotonic_path():
    from dictate.engine.align import dtw

    cost = np.ones((3, 10))
    cost[0, 0:2] = cost[1, 2:6] = cost[2, 6:10] = 0.0
    assert dtw(cost) == [0, 2, 6]


class FixedGate:
    """A speech gate that hears the same regions in any clip."""

    def __init__(self, regions):
        self._regions = regions

    def regions(self, audio, max_region_s=float("inf")):
        return list(self._regions)


def test_a_dictation_with_too_few_words_for_its_speech_is_decoded_again_in_pieces(
    engine, monkeypatch
):
    """The short path (`Engine.transcribe`, live chunks and the tail too): one decode, and the
    rate check's pieces only when the text is too short for the speech."""
    tokenizer = engine._processor.tokenizer
    first = {"text": " The horizon seems extremely distant."}
    monkeypatch.setattr(engine, "gate", FixedGate([(0.5, 3.0), (4.0, 7.5), (9.0, 11.5)]))
    monkeypatch.setattr(
        engine,
        "_infer",
        lambda audio, options, timings, **kw: tokenizer.encode(
            first["text"], add_special_tokens=False
        ),
    )
    said = ["The horizon seems extremely distant. One two three four five six.", "The sun set."]
    calls = []

    def alone(windows, options, cancel, urgent, timestamps=True):
        assert not timestamps
        calls.append([round(w.offset, 1) for w in windows])
        return [
            [Segment(w.regions[0][0], w.regions[-1][1], said[int(w.offset > 8)])]
            for w in windows
        ]  # fmt: skip

    monkeypatch.setattr(engine, "_decode_windows", alone)
    audio = np.zeros(12 * SR, np.float32)
    assert engine.transcribe(audio).text == " ".join(said)
    assert calls == [[0.3, 8.8]]  # cut at the longest pause: two pieces of ≤ 8 s
    calls.clear()
    first["text"] = " " + " ".join(said)  # words enough: no second decode
    assert engine.transcribe(audio).text == " ".join(said)
    assert calls == []


def test_speech_under_one_stretched_word_is_decoded_alone_and_put_before_its_segment():
    """Seen with tiny.en on a random join: a sentence skipped, the next one's timestamps and
    first word starting where the skipped one began (a pause too short for the phrase check,
    and a plausible rate over both). By the words' times, one word holds 3 s of speech."""
    close = [
        (0.5, 3.0, "one two three four five six seven eight"),
        (3.5, 6.5, "she had your dark suit in greasy wash water"),
        (6.8, 10.0, "then you go into your folder again in the folder"),
    ]
    speaker = Speaker(close, early={1})

    def locate(window, texts):
        out = []
        for text in texts:
            n = len(text.split())
            if text.startswith("then"):  # its first word over the skipped sentence
                out.append([3.5] + [6.8 + 3.2 * k / n for k in range(1, n)])
            else:
                a, b, _ = next(s for s in close if s[2] == text)
                out.append([a + (b - a) * k / n for k in range(n)])
        return out

    items = list(settle([speaker.window(0.0, 11.0)], speaker.decode))
    assert texts(items) == [close[0][2], close[2][2]]  # the other checks miss it
    speaker = Speaker(close, early={1})
    items = list(settle([speaker.window(0.0, 11.0)], speaker.decode, locate=locate))
    assert texts(items) == [s[2] for s in close]
    assert [i.start for i in items] == sorted(i.start for i in items)
    assert all(a.end <= b.start for a, b in itertools.pairwise(items))


def test_a_filler_alone_in_a_wordless_region_is_not_written():
    sentences = [DENSE[0], (4.6, 6.6, "Um."), DENSE[2]]
    speaker = Speaker(sentences, hide={0: 1})
    locate = locate_from(sentences)
    items = list(settle([speaker.window(0.0, 13.0)], speaker.decode, locate=locate))
    assert texts(items) == [DENSE[0][2], DENSE[2][2]]
    assert speaker.calls[-1][2] is False  # it was decoded alone, and left out
