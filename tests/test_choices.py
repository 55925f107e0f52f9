"""One source for every list: what the settings accept, the CLI offers and the decoder and the
file queue know are the same lists (they had drifted: the tray offered other languages than the
settings dialog, and three modules kept their own copy of the media file names)."""

from __future__ import annotations

from dictate import choices, cli, config
from dictate.audio import decode
from dictate.files import queue
from dictate.output import inserter


def _cli_choices(dest: str) -> tuple[str, ...]:
    parser = cli.build_parser()
    [action] = [a for a in parser._actions if a.dest == dest]
    return tuple(action.choices or ())


def test_every_offered_value_is_a_valid_setting_and_every_valid_one_is_offered() -> None:
    for field, offered in (
        ("mode", choices.MODES),
        ("device", choices.DEVICES),
        ("insert_method", choices.INSERT_METHODS),
    ):
        for value in choices.values(offered):
            settings, problems = config.Settings(**{field: value}).validated()
            assert not problems and getattr(settings, field) == value
        _, problems = config.Settings(**{field: "nonsense"}).validated()
        assert problems, field
    assert _cli_choices("mode") == choices.values(choices.MODES)
    assert _cli_choices("device") == choices.values(choices.DEVICES)
    assert _cli_choices("insert_method") == choices.values(choices.INSERT_METHODS)
    assert set(inserter.METHODS) | {"auto"} == set(choices.values(choices.INSERT_METHODS))


def test_every_offered_language_is_a_valid_setting() -> None:
    for code, _ in choices.LANGUAGES:
        assert not config.Settings(language=code).validated()[1]


def test_the_decoder_reads_every_file_the_queue_offers() -> None:
    known = decode._SNDFILE_EXTS | decode._FFMPEG_EXTS
    assert queue.MEDIA_SUFFIXES.issubset(known)
    assert not decode._SNDFILE_EXTS & decode._FFMPEG_EXTS  # each is read one way
