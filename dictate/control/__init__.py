"""Controlling the running app from outside its window: the local control socket, hotkeys."""
