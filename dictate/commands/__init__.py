"""The CLI sub-commands, one module each (imported only when used)."""
