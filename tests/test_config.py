"""Settings: round trip, and a corrupt or hostile file never stops the app."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dictate import config


def test_defaults_when_there_is_no_file(tmp_path):
    s, warnings = config.load(tmp_path / "settings.json")
    assert s == config.Settings() and warnings == []


def test_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    s = config.Settings(mode="toggle", hotkey="<ctrl>+<shift>+h", replacements={"cafe": "café"})
    config.save(s, path)
    loaded, warnings = config.load(path)
    assert loaded == s and warnings == []


def test_corrupt_file_falls_back_to_defaults_with_a_warning(tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(b"\x00{not json")
    s, warnings = config.load(path)
    assert s == config.Settings()
    assert len(warnings) == 1 and "unreadable" in warnings[0] and str(path) in warnings[0]


def test_invalid_and_unknown_values_are_replaced_one_by_one(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"mode": "telepathy", "device": "cpu", "tail_max_s": 99, "rm": "-rf /"})
    )
    s, warnings = config.load(path)
    assert (s.mode, s.device, s.tail_max_s) == ("auto", "cpu", 0.4)
    assert len(warnings) == 3


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f.name for f in config.fields(config.Settings)]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
        ),
    )
)
def test_any_json_object_loads_to_valid_settings(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("s") / "settings.json"
    path.write_text(json.dumps(raw))
    s, _ = config.load(path)
    again, problems = s.validated()
    assert problems == [] and again == s
