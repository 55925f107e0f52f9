"""`dictate models`: the catalog, what is cached here, and downloading a model."""

from __future__ import annotations

import argparse
import sys

from dictate.engine import catalog, loading
from dictate.errors import DictateError


def run(args: argparse.Namespace) -> int:
    if args.download:
        return _download(args.download)
    rows = [("NAME", "HUB ID", "PARAMS", "DOWNLOAD", "LANGUAGES", "HERE", "SUITS")]
    for m in catalog.CATALOG:
        here = loading.availability(m.repo_id) or "-"
        rows.append(
            (m.name, m.repo_id, f"{m.params_m}M", _size(m.download_mb), m.languages, here, m.suits)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    print(f"\nHugging Face cache: {loading.hub_cache_dir()}")
    if loading.offline_mode():
        print("Offline mode is on (HF_HUB_OFFLINE): only cached models can be loaded.")
    return 0


def _size(mb: int) -> str:
    return f"{mb / 1000:.1f} GB" if mb >= 1000 else f"{mb} MB"


def _download(name: str) -> int:
    from dictate.commands.progress import download_bar

    show, close = download_bar()
    try:
        source = loading.resolve(name, progress=show)
    except DictateError as exc:
        close()
        print(f"dictate: {exc}", file=sys.stderr)
        return 2
    close()
    print(f"{source.label}: {source.path}")
    return 0
