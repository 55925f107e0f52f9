"""Desktop integration without Qt: launch at login, the menu entry, and forgetting user data."""

APP_ID = "io.github.dictate.Dictate"  # reverse-DNS id: .desktop, metainfo, bundle, LaunchAgent
