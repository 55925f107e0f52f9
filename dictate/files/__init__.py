"""File transcription for the app: a queue of audio and video files run one at a time (no Qt)."""
