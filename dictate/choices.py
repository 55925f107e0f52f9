"""Every fixed list the app offers, in one place: the settings' allowed values with the words the
UI shows for them, the languages offered by name, the media file names known, and the sample
rate. config validates against these, the CLI offers them, the tray and the settings dialog show
them; before, each kept its own copy and they drifted apart. Stdlib only, no Qt, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE = 16000  # Whisper's, and so every recording's and decoded file's


@dataclass(frozen=True)
class Choice:
    value: str
    label: str  # short: a menu entry
    description: str  # long: a settings combo box, or a tooltip


MODES = (
    Choice("auto", "Auto", "Automatic: tap to start and stop, hold to talk"),
    Choice("hold", "Hold to talk", "Hold to talk"),
    Choice("toggle", "Toggle (press, speak, press)", "Toggle: press to start, press again to stop"),
)
DEVICES = (
    Choice("auto", "Auto", "Automatic (GPU when there is one)"),
    Choice("cuda", "CUDA (NVIDIA GPU)", "NVIDIA GPU (CUDA)"),
    Choice("mps", "Apple MPS", "Apple GPU (MPS)"),
    Choice("cpu", "CPU", "CPU"),
)
INSERT_METHODS = (
    Choice("auto", "Automatic", "Automatic (the best way on this desktop)"),
    Choice("paste", "Paste", "Paste through the clipboard"),
    Choice("type", "Type", "Type the keys (ASCII text only)"),
    Choice("xdotool", "xdotool", "xdotool type (X11)"),
    Choice("wtype", "wtype", "wtype (Wayland)"),
    Choice("ydotool", "ydotool", "ydotool (Wayland)"),
)
# The languages people most often dictate in, by Whisper code, offered by name (any other code
# can still be typed in the settings).
LANGUAGES = (
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("sv", "Swedish"),
    ("da", "Danish"),
    ("no", "Norwegian"),
    ("fi", "Finnish"),
    ("cs", "Czech"),
    ("el", "Greek"),
    ("tr", "Turkish"),
    ("ru", "Russian"),
    ("uk", "Ukrainian"),
    ("ar", "Arabic"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("zh", "Chinese"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
)


def values(choices: tuple[Choice, ...]) -> tuple[str, ...]:
    return tuple(c.value for c in choices)


# Media file names. libsndfile reads these itself; when it refuses one and ffmpeg is absent, the
# file is more likely damaged or not audio than in a format that merely needs ffmpeg.
NATIVE_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc"}
    | {".au", ".snd", ".caf", ".w64", ".rf64"}
)
# Audio that needs ffmpeg.
FFMPEG_AUDIO_SUFFIXES = frozenset(
    {".m4a", ".m4b", ".aac", ".wma", ".amr", ".ac3", ".eac3", ".mka", ".ape", ".wv", ".dts"}
    | {".spx", ".ra"}
)
AUDIO_SUFFIXES = NATIVE_SUFFIXES | FFMPEG_AUDIO_SUFFIXES
# Video (ffmpeg). No ".ts" here: in a dropped folder it is far more often TypeScript than an
# MPEG transport stream; such a file given by itself is still read (FFMPEG_SUFFIXES has it).
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".wmv", ".flv", ".mpg", ".mpeg"}
    | {".mts", ".m2ts", ".3gp", ".3g2", ".ogv", ".rm"}
)
MEDIA_SUFFIXES = AUDIO_SUFFIXES | VIDEO_SUFFIXES
FFMPEG_SUFFIXES = FFMPEG_AUDIO_SUFFIXES | VIDEO_SUFFIXES | {".ts"}  # only ffmpeg reads these
