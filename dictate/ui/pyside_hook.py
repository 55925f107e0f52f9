"""PySide6's import hook, made to forget what it reads.

Once PySide6 is imported, shiboken replaces `builtins.__import__` with a hook that, for every
module imported afterwards, asks whether its source mentions "PySide6" (PYSIDE-2029, for its
`__feature__` switches). It asks through `inspect.getsource`, which keeps every line it read in
`linecache` for the rest of the process. The model's imports come after the window, so that is
~2,300 files of torch and transformers: ~120 MB of resident memory that nothing reads again
(benchmarks/footprint.py: the window app against the headless one). `lighten()` puts in the
same test without the cache: the file is read, searched and let go.
"""

from __future__ import annotations

import sys
from types import ModuleType


def uses_pyside(module: ModuleType) -> bool:
    """Whether the module's source file mentions PySide6 (shiboken's answer, without linecache):
    False for built-in, extension and source-less modules, as shiboken's own test gives."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:
        return False


def lighten() -> bool:
    """Swap shiboken's source test for `uses_pyside`; whether it could (a PySide6 without that
    hook, or a later one that does it differently, is left as it is)."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]
    return True
