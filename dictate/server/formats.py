"""The transcription endpoint's response formats, as OpenAI's API shapes them.

Subtitles come from dictate.export (the same SRT and WebVTT as `dictate transcribe`); only the
JSON shapes are specific to the API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dictate import export
from dictate.transcript import Segment

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
MEDIA_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def joined(segments: Sequence[Segment]) -> str:
    return " ".join(t for s in segments if (t := s.text.strip()))


def render(
    fmt: str, text: str, segments: Sequence[Segment], *, duration_s: float, language: str
) -> str:
    """The body for `fmt` (one of RESPONSE_FORMATS). `segments` may be empty for json/text."""
    if fmt == "json":
        return json.dumps({"text": text}, ensure_ascii=False)
    if fmt == "text":
        return text + "\n" if text else ""
    if fmt in ("srt", "vtt"):
        return export.render(segments, fmt)
    # verbose_json: the fields dictate knows. Per-segment log-probabilities and no-speech
    # probabilities are not computed here, so they are left out rather than made up.
    return json.dumps(
        {
            "task": "transcribe",
            "language": language,
            "duration": round(duration_s, 3),
            "text": text,
            "segments": [
                {
                    "id": i,
                    "seek": round(s.start * 100),  # in 10 ms frames, as Whisper counts
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "text": s.text.strip(),
                    "temperature": 0.0,  # greedy decoding
                }
                for i, s in enumerate(segments)
            ],
        },
        ensure_ascii=False,
    )
