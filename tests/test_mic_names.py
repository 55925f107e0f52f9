"""The microphone list (issue 28): device names from PortAudio's host API, one default entry
(not "System default / pulse / default")."""

from __future__ import annotations

from types import SimpleNamespace

from dictate.audio import portaudio
from dictate.audio.capture import INPUT


def fake_sd(devices: list[tuple[str, int, int]], apis: list[str]) -> SimpleNamespace:
    """sounddevice as far as choices() asks: (name, input channels, host API index)."""
    infos = [
        {"name": n, "max_input_channels": ch, "max_output_channels": 2, "hostapi": api}
        for n, ch, api in devices
    ]

    def query_devices(index=None):
        return infos if index is None else infos[index]

    return SimpleNamespace(
        query_devices=query_devices,
        query_hostapis=lambda: [{"name": a} for a in apis],
        PortAudioError=RuntimeError,
    )


def test_aliases_of_the_default_are_not_listed_and_names_are() -> None:
    sd = fake_sd(
        [
            ("HDA Intel PCH: ALC257 Analog (hw:0,0)", 2, 0),
            ("HDMI 0 (hw:0,3)", 0, 0),  # output only
            ("USB Headset: Audio (hw:1,0)", 1, 0),
            ("sysdefault", 128, 0),
            ("pulse", 32, 0),
            ("default", 32, 0),
        ],
        ["ALSA"],
    )
    assert portaudio.choices(sd, INPUT) == [
        ("HDA Intel PCH: ALC257 Analog (hw:0,0)", "HDA Intel PCH: ALC257 Analog (hw:0,0)"),
        ("USB Headset: Audio (hw:1,0)", "USB Headset: Audio (hw:1,0)"),
    ]


def test_only_aliases_leave_nothing_but_the_system_default() -> None:
    sd = fake_sd([("pulse", 32, 0), ("default", 32, 0)], ["ALSA"])
    assert portaudio.choices(sd, INPUT) == []


def test_the_host_api_is_named_where_several_give_devices() -> None:
    sd = fake_sd(
        [("USB Mic (hw:1,0)", 1, 0), ("system", 2, 1)], ["ALSA", "JACK Audio Connection Kit"]
    )
    assert [label for _, label in portaudio.choices(sd, INPUT)] == [
        "USB Mic (hw:1,0) — ALSA",
        "system — JACK Audio Connection Kit",
    ]
