"""Getting dictated text into the focused window: clipboard, typing backends and the inserter."""
