"""The live commit policy on scripted hypothesis sequences (no model, no audio)."""

from __future__ import annotations

import pytest

from dictate.dictation.commit import (
    CommitPolicy,
    aligned_end,
    common_prefix,
    key,
    mend_join,
    skipped,
)


def test_key_ignores_case_and_punctuation() -> None:
    assert key("Country,") == key("country") == "country"
    assert key("don't") == key("Dont")


def test_common_prefix_counts_agreeing_words() -> None:
    assert common_prefix(["ask", "not", "what"], ["Ask", "not,", "when"]) == 2
    assert common_prefix([], ["a"]) == 0


@pytest.mark.parametrize(
    ("done", "words", "end"),
    [
        ("", "a b c", 0),
        ("and so my", "And so my fellow", 3),
        ("and so my", "And so, my fellow Americans", 3),
        ("and so my", "And so me fellow", 3),  # a committed word decoded differently
        ("and so my", "And my fellow", 2),  # a committed word dropped by the new decode
        ("and so my", "Uh and so my fellow", 4),  # a word inserted before the committed end
        ("for your country", "for yourcountry ask", 2),  # two words merged into one
        ("a b c d", "a b", 2),  # the hypothesis is shorter than what was committed
    ],
)
def test_aligned_end_finds_the_end_of_the_committed_words(done: str, words: str, end: int) -> None:
    assert aligned_end(done.split(), words.split()) == end


def test_stable_prefix_is_committed_after_two_agreeing_hypotheses() -> None:
    p = CommitPolicy()
    first = p.hypothesis("And so my fellow")
    assert first.committed == [] and first.tentative == ["And", "so", "my", "fellow"]
    second = p.hypothesis("And so my fellow Americans ask")
    # "fellow" was the first hypothesis' last word, "ask" is held back: it may be cut off.
    assert second.committed == ["And", "so", "my", "fellow"]
    assert second.tentative == ["Americans", "ask"]
    third = p.hypothesis("And so my fellow Americans, ask not what")
    assert third.committed == ["Americans,", "ask"]
    assert p.text == "And so my fellow Americans, ask"


def test_a_revision_is_not_committed_until_it_agrees() -> None:
    p = CommitPolicy()
    p.hypothesis("I scream for")
    u = p.hypothesis("Ice cream for you")  # disagrees from the first word: nothing is final
    assert u.committed == [] and u.tentative == ["Ice", "cream", "for", "you"]
    u = p.hypothesis("Ice cream for you and me")
    assert u.committed == ["Ice", "cream", "for", "you"]  # as far as the two agree
    assert p.text == "Ice cream for you"


def test_committed_words_are_never_taken_back_by_a_later_decode() -> None:
    p = CommitPolicy()
    p.hypothesis("the quick brown")
    p.hypothesis("the quick brown fox jumps")
    assert p.text == "the quick brown"
    # The next decode spells a committed word differently: only what follows is new.
    u = p.hypothesis("The quick browne fox jumps over")
    assert u.committed == ["fox", "jumps"]
    assert p.text == "the quick brown fox jumps"


def test_speech_ended_commits_the_last_word_too() -> None:
    p = CommitPolicy()
    p.hypothesis("ask what you can do")
    u = p.hypothesis("ask what you can do", speech_ended=True)
    assert u.committed == ["ask", "what", "you", "can", "do"] and u.tentative == []


def test_a_chunk_commits_only_what_agreement_had_not() -> None:
    p = CommitPolicy()
    p.hypothesis("She had your dark")
    p.hypothesis("She had your dark suit in")
    assert p.text == "She had your dark"
    new = p.chunk("She had your dark suit in greasy wash water all year.")
    assert new == ["suit", "in", "greasy", "wash", "water", "all", "year."]
    assert p.text == "She had your dark suit in greasy wash water all year."
    assert p.pending == []
    # The next buffer starts after the pause: nothing of the old one is matched against it.
    p.hypothesis("Don't ask")
    u = p.hypothesis("Don't ask me to")
    assert u.committed == ["Don't", "ask"]
    assert p.text.endswith("all year. Don't ask")


def test_words_committed_past_the_pause_carry_into_the_next_buffer() -> None:
    """Agreement committed "ask not" before the chunk up to the pause (which ends at
    "Americans") was decoded: those words belong to the next buffer and are not typed twice."""
    p = CommitPolicy()
    p.hypothesis("And so my fellow Americans ask not what")
    p.hypothesis("And so my fellow Americans ask not what your")
    assert p.text == "And so my fellow Americans ask not what"
    assert p.chunk("And so my fellow Americans.") == []
    assert p.pending == ["ask", "not", "what"]
    p.hypothesis("Ask not what your country")
    u = p.hypothesis("Ask not what your country can do")
    assert u.committed == ["your", "country"]
    assert p.text == "And so my fellow Americans ask not what your country"


def test_finish_adds_the_tail_once() -> None:
    p = CommitPolicy()
    p.chunk("One sentence.")
    p.hypothesis("Two words")
    p.hypothesis("Two words here")
    assert p.finish("Two words here and there.") == ["here", "and", "there."]
    assert p.text == "One sentence. Two words here and there."
    assert p.finish("") == []  # an empty tail adds nothing
    assert p.text == "One sentence. Two words here and there."


def test_cancel_in_the_middle_commits_nothing_more_and_keeps_what_was() -> None:
    p = CommitPolicy()
    p.hypothesis("this is typed")
    p.hypothesis("this is typed already and")
    typed = p.text
    p.cancel()
    assert p.hypothesis("this is typed already and more").committed == []
    assert p.chunk("this is typed already and more.") == []
    assert p.finish("anything") == []
    assert p.text == typed == "this is typed"


def test_no_word_lost_or_doubled_over_a_scripted_dictation() -> None:
    """A whole dictation as the live loop sees it: growing hypotheses with revisions, chunks
    at pauses, the tail at release. The result is the spoken text, each word once."""
    p = CommitPolicy()
    steps = [
        ("hyp", "And so my"),
        ("hyp", "And so my fellow Americans"),
        ("hyp", "And so my fellow Americans, ask not"),
        ("chunk", "And so my fellow Americans, ask not what your country can do for you."),
        ("hyp", "Ask what"),
        ("hyp", "Ask what you can"),
        ("hyp", "Ask what you can do for your"),
        ("chunk", "Ask what you can do for your country."),
        ("hyp", "She had"),
        ("hyp", "She had your dark suit"),
        ("finish", "She had your dark suit in greasy wash water all year."),
    ]
    for kind, text in steps:
        getattr(p, {"hyp": "hypothesis"}.get(kind, kind))(text)
    assert p.text == (
        "And so my fellow Americans, ask not what your country can do for you. "
        "Ask what you can do for your country. "
        "She had your dark suit in greasy wash water all year."
    )


def test_a_hypothesis_sharing_no_word_with_the_committed_ones_is_kept_whole() -> None:
    # Losing words is worse than doubling one: with nothing to align on, nothing is skipped.
    assert aligned_end(["and", "mister", "john"], ["leisure", "to", "consider"]) == 0


# ---- joins between chunks decoded apart (issue 23) ------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "bridge", "mended"),
    [
        # Whisper ends every chunk with a full stop; the bridge heard one sentence.
        (
            "I am sitting in a room.",
            "different from the one",
            "in a room different from",
            ("room", "different"),
        ),
        ("ask not", "What your country", "ask not what your", ("not", "what")),
        (
            "of the first importance.",
            "That the letter",
            "first importance that the letter",
            ("importance", "that"),
        ),
        # A clause mark from the bridge is taken, a real sentence end kept and capitalised.
        (
            "fine in form.",
            "Especially as no",
            "fine in form, especially as",
            ("form,", "especially"),
        ),
        ("all year.", "and so my fellow", "wash water all year. And so my", ("year.", "And")),
        # Proper nouns and "I" stay capitalised where the bridge has them so; acronyms too.
        ("said to me.", "I think", "said to me I think", ("me", "I")),
        ("worked at", "NASA for years", "worked at nasa for", ("at", "NASA")),
        ("the doctor said.", "Mr. Smith", "the doctor said Mr. Smith", ("said", "Mr.")),
        ('she wrote "yes."', "Then left", 'she wrote "yes." Then left', ('"yes.', "Then")),
    ],
)
def test_a_join_takes_the_bridges_punctuation_and_case(
    left: str, right: str, bridge: str, mended: tuple[str, str]
) -> None:
    assert mend_join(left.split(), right.split(), bridge.split()) == mended


@pytest.mark.parametrize(
    ("left", "right", "bridge"),
    [
        ("a room.", "Different from", ""),  # nothing decoded
        ("a room.", "Different from", "the one you are in"),  # other words
        ("a room.", "Different from", "a room was different"),  # not side by side
    ],
)
def test_a_bridge_that_does_not_hold_both_words_changes_nothing(
    left: str, right: str, bridge: str
) -> None:
    assert mend_join(left.split(), right.split(), bridge.split()) is None


def test_the_policy_records_each_chunk_join_and_mends_only_its_two_words() -> None:
    p = CommitPolicy()
    p.chunk("I am sitting in a room.", at=16000)
    p.chunk("Different from the one.", at=32000)
    p.finish("You are in now.")
    assert [(j.index, j.at) for j in p.joins] == [(6, 16000), (10, 32000)]
    assert p.mend(p.joins[0], "in a room different from the")
    assert p.mend(p.joins[1], "the one you are")
    assert p.text == "I am sitting in a room different from the one you are in now."
    assert all(j.mended for j in p.joins) and p.open_cuts() == []


def test_a_join_whose_bridge_heard_other_words_is_done_and_left_as_it_was() -> None:
    p = CommitPolicy()
    p.chunk("A room.", at=10)
    p.finish("Different.")
    assert not p.mend(p.joins[0], "something else entirely")
    assert p.text == "A room. Different." and p.open_cuts() == []


def test_words_committed_by_agreement_after_the_cut_open_the_join() -> None:
    p = CommitPolicy()
    p.hypothesis("And so my fellow")
    p.hypothesis("And so my fellow Americans ask")  # commits "And so my fellow"
    p.chunk("And so my", at=500)  # the cut came after "my": "fellow" carries over
    assert [(j.index, j.at) for j in p.joins] == [(3, 500)]
    assert p.committed == ["And", "so", "my", "fellow"]


def test_a_silent_first_chunk_makes_no_join() -> None:
    p = CommitPolicy()
    p.chunk("", at=100)
    p.finish("Hello there.")
    assert p.joins == []


def test_an_unmatched_bridge_still_joins_a_sentence_the_next_chunk_continues() -> None:
    p = CommitPolicy()
    p.chunk("we desire and crease.", at=10)
    p.finish("that thereby beauty's rose")
    assert not p.mend(p.joins[0], "desire increase that")  # "and crease" is not in it
    assert p.text == "we desire and crease that thereby beauty's rose"


def test_a_sentence_the_agreed_words_skipped_goes_in_at_its_place() -> None:
    """Two hypotheses agreed on text that skipped a sentence (random joins, seed 0: LDC93S1
    between two other clips); the chunk's checked decode holds it: it goes in where it was
    said, and the joins after it move with their words."""
    policy = CommitPolicy()
    policy.chunk("He might even have been made amiable himself.", at=100)
    policy.hypothesis("Then you go into your folder again and")
    policy.hypothesis("Then you go into your folder again and then")  # agreed: not the sentence
    assert policy.text.endswith("himself. Then you go into your folder again and")
    join = policy.joins[-1]
    new = policy.chunk(
        "She had your dark suit in greasy wash water. Then you go into your folder again and then"
    )
    assert policy.text == (
        "He might even have been made amiable himself. She had your dark suit in greasy wash "
        "water. Then you go into your folder again and then"
    )
    assert new == ["then"]
    assert policy.joins[-1] == join  # the join before the sentence stays at its word
    assert policy.committed[join.index] == "She"


def test_words_already_typed_keep_their_place_and_the_skipped_ones_come_after() -> None:
    policy = CommitPolicy(in_place=False)
    policy.hypothesis("Then you go into your folder")
    policy.hypothesis("Then you go into your folder again")
    new = policy.chunk("She had your dark suit. Then you go into your folder again")
    assert new == ["She", "had", "your", "dark", "suit.", "again"]
    assert policy.text.split()[:6] == ["Then", "you", "go", "into", "your", "folder"]


@pytest.mark.parametrize(
    ("done", "words", "expected"),
    [
        ("a b c d", "a b c d e", []),  # nothing skipped: the rest is new, not skipped
        ("a b c d", "x y z a b c d", [(0, ["x", "y", "z"])]),
        ("a b c d", "a b x y z c d", [(2, ["x", "y", "z"])]),
        ("a b c d", "a b x c d", []),  # one word: decoding variance
        ("a b c d", "a b c d x y z", []),  # after the agreed words: new words
        ("", "x y z", []),
    ],
)
def test_skipped_finds_runs_of_words_inside_the_agreed_stretch(done, words, expected) -> None:
    assert skipped(done.split(), words.split()) == expected


def test_a_decode_without_the_buffers_committed_words_agrees_on_nothing() -> None:
    """Random joins through the microphone (seed 0): "Then you go into" was committed by
    agreement past the cut before LDC93S1; two decodes of the next buffer then held the
    sentence and the rest of the clip but not those words, and their agreement put the
    sentence after them ("Then you go into She had your … year. your ComfyUI folder")."""
    policy = CommitPolicy()
    policy.hypothesis("He might even have been made amiable himself. Then you go into")
    policy.hypothesis("He might even have been made amiable himself. Then you go into your")
    policy.chunk("He might even have been made amiable himself.", at=100)
    assert policy.text.endswith("himself. Then you go into")
    for _ in range(3):
        update = policy.hypothesis("She had your dark suit in greasy wash water all year. folder")
        assert update.committed == []
    policy.chunk(
        "She had your dark suit in greasy wash water all year. Then you go into your folder again."
    )
    assert policy.text == (
        "He might even have been made amiable himself. She had your dark suit in greasy wash "
        "water all year. Then you go into your folder again."
    )
