"""Dictation: the session state machine, text clean-up and the crash-safe history."""
