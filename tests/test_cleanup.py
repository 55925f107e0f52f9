"""Text clean-up: stock silence phrases, the user's dictionary, fillers, spoken commands."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dictate.dictation.cleanup import STOCK_PHRASES, CleanupRules, clean, join_with_previous

PLAIN = CleanupRules()
FILLERS = CleanupRules(remove_fillers=True)
NO_COMMANDS = CleanupRules(spoken_commands=False)


@pytest.mark.parametrize("phrase", STOCK_PHRASES)
def test_stock_phrases_are_dropped_when_the_gate_heard_little_speech(phrase):
    assert clean(phrase, PLAIN, speech_s=0.3) == ""


@pytest.mark.parametrize(
    "text",
    ["thank you", "THANK YOU!", "  Thank you.  ", "Thank you. Thank you.", "♪ ♪", "Bye. you"],
)
def test_stock_match_ignores_case_punctuation_and_repetition(text):
    assert clean(text, PLAIN, speech_s=0.5) == ""


@pytest.mark.parametrize("speech_s", [None, 1.0, 4.2])
def test_stock_phrases_are_kept_from_real_or_unknown_speech(speech_s):
    assert clean("Thank you.", PLAIN, speech_s=speech_s) == "Thank you."


def test_only_whole_texts_are_stock():
    assert clean("Thank you for the report.", PLAIN, speech_s=0.4) == "Thank you for the report."
    assert clean("you know it", PLAIN, speech_s=0.4) == "you know it"


def test_a_short_spoken_command_is_not_silence():
    assert clean("New line.", PLAIN, speech_s=0.4) == "\n"


def test_a_stock_phrase_left_after_fillers_is_dropped():
    assert clean("You, um.", FILLERS, speech_s=0.5) == ""


def test_replacements_are_whole_word_case_insensitive_and_verbatim():
    rules = CleanupRules(replacements={"cafe": "café", "Gpt": "GPT", "new york": "New York City"})
    text = "The CAFE near cafes in new   York, gpt said."
    assert clean(text, rules) == "The café near cafes in New York City, GPT said."


def test_replacement_keys_with_punctuation_and_unicode():
    rules = CleanupRules(
        replacements={":smile:": "😀", "c++": "C++20", "naïve": "naive", "e.g.": "eg"}
    )
    assert (
        clean("Hi :smile:! I like C++, e.g. templates", rules)
        == "Hi 😀! I like C++20, eg templates"
    )
    assert clean("(:smile:) NAÏVE", rules) == "(😀) naive"
    assert clean("a:smile:b xc++ naïveté", rules) == "a:smile:b xc++ naïveté"  # not whole words


def test_replacement_of_decomposed_unicode_matches_composed_text():
    rules = CleanupRules(replacements={"cafe\u0301": "coffee shop"})  # "café", decomposed
    assert clean("at the café", rules) == "at the coffee shop"


def test_longest_key_wins_and_values_are_not_processed_again():
    rules = CleanupRules(
        replacements={"new": "NEW", "new york city": "NYC", "um": "UM", "x": "um, new line,  x"},
        remove_fillers=True,
    )
    assert clean("new york city is new", rules) == "NYC is NEW"
    assert clean("say x now", rules) == "say um, new line,  x now"


def test_empty_replacement_deletes_the_word():
    assert clean("I like really like it", CleanupRules(replacements={"like": ""})) == "I really it"


def test_stock_rule_judges_whisper_words_not_replacement_values():
    rules = CleanupRules(replacements={"ty": "Thank you.", "thanks": "Cheers!"})
    assert clean("ty", rules, speech_s=0.5) == "Thank you."  # the user said a word of theirs
    assert clean("Thanks.", rules, speech_s=0.5) == ""  # Whisper's stock output stays dropped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So, um, we", "So, we"),
        ("Um, so we start.", "So we start."),
        ("Um, uh, so we start.", "So we start."),
        ("We need, uh, more.", "We need, more."),
        ("We um need uhh more", "We need more"),
        ("We need, um.", "We need."),
        ("We need um?", "We need?"),
        ("Okay. Um. Next.", "Okay. Next."),
        ("Yes, um", "Yes"),
        ("Hmm... I wonder. Erm, maybe.", "I wonder. Maybe."),
        ("Um.", ""),
    ],
)
def test_fillers_are_removed_with_their_punctuation(text, expected):
    assert clean(text, FILLERS) == expected


@pytest.mark.parametrize(
    "text", ["The drum, umbrella and hummus.", "Uh-huh, that's right.", "The ER and UM.", "I um-"]
)
def test_fillers_are_never_removed_inside_words_or_from_capitals(text):
    assert clean(text, FILLERS) == text


def test_fillers_stay_unless_asked():
    assert clean("So, um, we", PLAIN) == "So, um, we"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello. New line. World.", "Hello.\nWorld."),
        ("Dear John, new paragraph, thanks for the notes.", "Dear John\n\nthanks for the notes."),
        ("First item, NEW LINE, second item", "First item\nsecond item"),
        ("New paragraph. Next point", "\n\nNext point"),
        ("one, new line, new line, two", "one\n\ntwo"),
        ("Closing. Newline.", "Closing.\n"),
    ],
)
def test_spoken_commands_become_line_breaks(text, expected):
    assert clean(text, PLAIN) == expected


@pytest.mark.parametrize(
    "text",
    [
        "We launched a new line of products.",
        "We need a new line.",
        "new lines",
        "Hello new line world",  # said without a pause: Whisper gave no sign it was a command
    ],
)
def test_new_line_inside_a_sentence_is_text(text):
    assert clean(text, PLAIN) == text


def test_spoken_commands_can_be_turned_off():
    assert clean("Hello, new line, world", NO_COMMANDS) == "Hello, new line, world"


def test_whitespace_is_collapsed_and_trimmed():
    assert clean("  Hello \t  there \r\n  world  ", NO_COMMANDS) == "Hello there\nworld"
    assert clean("   ", PLAIN) == ""


def test_join_with_previous():
    assert join_with_previous("World.", None) == "World."
    assert join_with_previous("World.", "Hello.") == " World."
    assert join_with_previous("World.", "Hello.\n") == "World."
    assert join_with_previous("\nWorld.", "Hello.") == "\nWorld."
    assert join_with_previous(", and more", "Hello") == ", and more"
    assert join_with_previous("", "Hello") == ""


_PIECES = st.sampled_from(
    [
        "um", "Um", "uh,", "Uh,", "hmm.", "erm", "er", "ER", "new", "New", "line", "paragraph",
        "line.", "line,", "Newline", "thank", "Thank you.", "you", "Bye.", "♪", "...", ".", ",",
        "?", "so", "So", "we", "iPhone", "ß", " ", "  ", "\n", "\t", "\r", "\ue000", "\ue0010",
    ]
)  # fmt: skip
_TEXT = st.one_of(
    st.lists(_PIECES, max_size=14).map(" ".join),
    st.lists(_PIECES, max_size=14).map("".join),
    st.text(max_size=40),
)
_RULES = st.builds(CleanupRules, remove_fillers=st.booleans(), spoken_commands=st.booleans())
_SPEECH = st.one_of(st.none(), st.floats(0, 3))


@settings(max_examples=600, deadline=None)
@given(text=_TEXT, rules=_RULES, speech_s=_SPEECH)
def test_clean_never_raises_and_is_idempotent(text, rules, speech_s):
    once = clean(text, rules, speech_s=speech_s)
    assert clean(once, rules, speech_s=speech_s) == once
    assert once == once.strip(" ")
    assert "  " not in once


@settings(max_examples=200, deadline=None)
@given(
    text=_TEXT,
    replacements=st.dictionaries(st.one_of(_PIECES, st.text(max_size=8)), st.text(max_size=8)),
    speech_s=_SPEECH,
)
def test_clean_never_raises_with_any_dictionary(text, replacements, speech_s):
    rules = CleanupRules(replacements=replacements, remove_fillers=True)
    assert isinstance(clean(text, rules, speech_s=speech_s), str)
