"""The Qt tray app, the only Qt code: it drives the core through `dictate.app.App`."""
