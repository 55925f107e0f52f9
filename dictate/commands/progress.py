"""Download progress on stderr, as a tqdm bar: `dictate models --download` and the model load of
`dictate transcribe` show the same one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def download_bar(say: Callable[[str], None] | None = None) -> tuple[Callable[[Any], None], Any]:
    """(report, close): `report` takes loading.Progress; bytes go to a bar, other steps with a
    message to `say`. Call `close()` at the end to leave the bar finished on its own line."""
    from functools import partial

    from tqdm import tqdm as _tqdm

    tqdm = partial(_tqdm, file=sys.stderr)

    bars: dict[str, Any] = {}

    def report(p: Any) -> None:
        if p.stage == "download" and p.total:
            # One bar per download: the model's, then its assistant's (named in the message).
            desc = f"downloading {p.message}" if p.message else "downloading"
            bar = bars.get(desc)
            if bar is None:
                bar = bars[desc] = tqdm(total=p.total, unit="B", unit_scale=True, desc=desc)
            bar.total = p.total
            bar.update(p.done - bar.n)
        elif p.message and say is not None:
            say(p.message)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return report, close
