"""PortAudio through sounddevice, the one way capture, the level meter and playback use it:
import it (a clear error when PortAudio is missing), find a device by name, number or default,
open a stream at the device's own rate and channel count, and close one without hanging.

Before, the three kept near-copies of each step. Errors are raised as the caller's own class
(MicrophoneError, PlaybackError), so each says what it is about.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from dictate.errors import DictateError

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0  # Pa_AbortStream/Pa_CloseStream can hang on a dead source: never wait more


@dataclass(frozen=True)
class Direction:
    """Input or output, with the words and the error class its messages use."""

    error: type[DictateError]
    channels_key: str  # "max_input_channels" | "max_output_channels"
    default_slot: int  # sd.default.device is (input, output)
    none_found: str  # said when there is no such device at all
    thing: str  # "microphone" | "audio output"
    listing: str  # "input devices" | "output devices"


def sounddevice(error: type[DictateError]) -> Any:
    """The sounddevice module; imported lazily: without PortAudio it raises OSError at import,
    and the CLI must still work then."""
    try:
        import sounddevice
    except ImportError:
        raise error("sounddevice is not installed (pip install sounddevice)") from None
    except OSError:  # "PortAudio library not found"
        raise error("PortAudio is not installed (apt install libportaudio2)") from None
    return sounddevice


def devices(sd: Any, way: Direction) -> dict[int, str]:
    """index → name of every device PortAudio knows in that direction."""
    try:
        found = sd.query_devices()
    except sd.PortAudioError as exc:
        raise way.error(f"cannot list audio devices ({exc})") from None
    return {i: str(d["name"]) for i, d in enumerate(found) if d[way.channels_key] > 0}


# ALSA's virtual devices that stand for the sound server's (or the card's) default: listed by
# PortAudio beside the real ones, they read as "pulse, default" in a microphone list and all
# are the "System default" entry already.
DEFAULT_ALIASES = frozenset(
    {"default", "sysdefault", "pulse", "pipewire", "jack", "dsnoop", "dmix", "samplerate"}
    | {"speexrate", "upmix", "vdownmix", "lavrate"}
)


def choices(sd: Any, way: Direction) -> list[tuple[str, str]]:
    """(setting value, label) for each device a person can pick, besides "System default":
    the devices' own names from their host API, without the aliases of the default; the host
    API is named only where several give devices (JACK beside ALSA, say). A name shared by
    two devices is listed once (the setting is a name)."""
    named = devices(sd, way)
    try:
        apis = [str(a["name"]) for a in sd.query_hostapis()]
        info = {i: sd.query_devices(i) for i in named}
    except (sd.PortAudioError, KeyError, TypeError, IndexError):
        apis, info = [], {}
    real = {i: n for i, n in named.items() if n.strip().lower() not in DEFAULT_ALIASES}
    api_of = {
        i: apis[info[i]["hostapi"]] if i in info and info[i]["hostapi"] < len(apis) else ""
        for i in real
    }
    several = len({a for a in api_of.values() if a}) > 1
    found: dict[str, str] = {}
    for i, name in real.items():
        label = f"{name} — {api_of[i]}" if several and api_of[i] else name
        found.setdefault(name, label)
    return list(found.items())


def find(sd: Any, device: str | int | None, way: Direction) -> tuple[int, dict[str, Any]]:
    """The PortAudio index and info of the requested device: None is the system default (else
    the first one), a number is an index, a name matches exactly (any case), else the first
    name that contains it."""
    named = devices(sd, way)
    if not named:
        raise way.error(way.none_found)
    if device is None:
        default = sd.default.device[way.default_slot]  # -1 when there is none
        index: int | None = default if default in named else min(named)
    elif isinstance(device, int) or device.strip().isdigit():
        index = int(device)
    else:
        wanted = device.strip().lower()
        exact_first = sorted(named.items(), key=lambda item: item[1].lower() != wanted)
        index = next((i for i, n in exact_first if wanted in n.lower()), None)
    if index not in named:
        names = ", ".join(f"{i}: {n!r}" for i, n in named.items())
        raise way.error(f"no {way.thing} {device!r} ({way.listing}: {names})")
    return index, sd.query_devices(index)


def native_format(sd: Any, index: int, info: dict[str, Any], way: Direction) -> tuple[int, int]:
    """(rate, channels) to open the device with: its own rate, so PortAudio never resamples,
    and mono unless the device refuses it (some hw: devices), then all its channels."""
    rate = int(info["default_samplerate"] or 48000)
    check = sd.check_input_settings if way.default_slot == 0 else sd.check_output_settings
    try:
        check(device=index, channels=1, samplerate=rate)
    except (sd.PortAudioError, ValueError):
        return rate, max(1, int(info[way.channels_key]))
    return rate, 1


def open_stream(sd: Any, way: Direction, name: str, hint: str = "", **kwargs: Any) -> Any:
    """Create and start an InputStream/OutputStream (kwargs as sounddevice's); a failure is
    way.error naming the device, with nothing left open."""
    kind = sd.InputStream if way.default_slot == 0 else sd.OutputStream
    stream = None
    try:
        stream = kind(**kwargs)
        stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        if stream is not None:
            stream.close(ignore_errors=True)
        raise way.error(f"the {way.thing} {name!r} cannot be opened ({exc}{hint})") from None
    return stream


def shut(stream: Any, timeout: float = CLOSE_TIMEOUT_S) -> bool:
    """Abort and close a stream (stop() can hang on a dead source; abort() returns), waiting at
    most `timeout`; False when it did not close in time (it is left behind)."""

    def close() -> None:  # ignore_errors: aborting a stream whose device is gone can fail
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)

    closer = threading.Thread(target=close, name="dictate-audio-close", daemon=True)
    closer.start()
    closer.join(timeout)
    if closer.is_alive():
        log.warning("an audio stream did not close in %.0f s; left behind", timeout)
        return False
    return True
