"""User-facing errors: each carries a message a person can act on."""

from __future__ import annotations


class DictateError(Exception):
    """Base class: the message is shown to the user as one line, never a traceback."""


class AudioError(DictateError):
    """An audio file could not be read (missing, empty, corrupt, unsupported)."""


class ModelError(DictateError):
    """A model could not be found, downloaded, converted or loaded."""


class ModelNotAvailableError(ModelError):
    """The model is not on this machine and cannot be downloaded now."""


class DeviceError(DictateError):
    """The requested compute device cannot be used."""


class Cancelled(DictateError):
    """The caller asked the work to stop."""


class EngineGone(ModelError):
    """The model was switched or unloaded while a transcription held it: try again with the
    engine there is now (the caller keeps the audio)."""
