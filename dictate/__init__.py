"""dictate: local, private desktop dictation with Distil-Whisper."""

__version__ = "0.1.0"
