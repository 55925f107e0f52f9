"""The settings dialog (`dialog`) and its tabs, one module each."""

from dictate.ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
