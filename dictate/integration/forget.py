"""`dictate --forget`: delete everything dictate keeps about the user on this machine.

That is the data folder (history database and recorded audio), the settings folder, dictate's
own cache (converted models) and the launch-at-login entry; with `include_models`, also the
catalog models' folders in the shared Hugging Face cache, which other programs may use too, so
they stay by default. Refused while the app runs: it holds the history open and would write the
settings back.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from dictate import paths
from dictate.errors import DictateError
from dictate.integration import autostart

EXIT_OK, EXIT_FAILED = 0, 1


class ForgetError(DictateError):
    """Forgetting was refused (the app runs, or a folder is not safe to delete)."""


@dataclass(frozen=True)
class Item:
    """One thing to delete: a file or folder, or the launch-at-login entry (on Windows a
    registry value, hence a kind of its own)."""

    what: str
    path: Path
    autostart: bool = False
    # A model in the Hugging Face cache: huggingface_hub deletes its revisions (blobs it may
    # share with other repos included), found by its own cache scan.
    hub_revisions: tuple[str, ...] = ()
    size: int | None = None  # bytes, when known without walking the folder


def plan(include_models: bool = False) -> list[Item]:
    """What `forget` would delete, only what exists, nothing listed twice or inside another."""
    items = [
        Item("history and recorded audio", paths.data_dir()),
        Item("settings", paths.config_dir()),
        Item("cache (converted models)", paths.cache_dir()),
    ]
    items = [item for item in items if item.path.exists()]
    if autostart.is_enabled():
        items.append(Item("launch at login", autostart.entry_path(), autostart=True))
    if include_models:
        items += _model_items()
    for item in items:
        _check_safe(item.path)
    return _without_nested(items)


def _model_items() -> list[Item]:
    """The catalog's models in the Hugging Face cache, as huggingface_hub's scan finds them.

    Two things stay hand-made, because the scan does not cover them: the repo's folder in
    `.locks` (download lock files, which the scan skips), and a repo folder the scan reports as
    corrupted (a broken download), which is deleted as a folder so nothing is left behind."""
    from huggingface_hub import scan_cache_dir

    from dictate.engine.catalog import CATALOG
    from dictate.engine.loading import hub_cache_dir

    hub = hub_cache_dir()
    if not hub.is_dir():
        return []
    names = {m.repo_id: m.name for m in CATALOG}
    cache = scan_cache_dir(hub)
    scanned = {r.repo_id: r for r in cache.repos if r.repo_type == "model"}
    # delete_revisions() deletes a hash in every repo that has it: a mirror of one of ours
    # (same commits) would go too. Such a repo is deleted as a folder instead.
    owners: dict[str, int] = {}
    for r in cache.repos:
        for rev in r.revisions:
            owners[rev.commit_hash] = owners.get(rev.commit_hash, 0) + 1
    items = []
    for repo_id, name in names.items():
        what = f"model {name} (Hugging Face cache)"
        folder = "models--" + repo_id.replace("/", "--")
        repo = scanned.get(repo_id)
        if repo is not None:
            revisions = tuple(r.commit_hash for r in repo.revisions)
            if any(owners[h] > 1 for h in revisions):
                revisions = ()  # removed as a folder
            size = repo.size_on_disk
            items.append(Item(what, repo.repo_path, hub_revisions=revisions, size=size))
        elif (hub / folder).exists():  # corrupted: not in the scan's repos
            items.append(Item(what, hub / folder))
        if (hub / ".locks" / folder).exists():
            items.append(Item(what, hub / ".locks" / folder))
    return items


def _protected() -> list[Path]:
    """Folders that a mistaken DICTATE_*_DIR could point at and that must never go."""
    home = Path.home()
    bases = [
        platformdirs.user_data_dir(),
        platformdirs.user_config_dir(),
        platformdirs.user_cache_dir(),
    ]
    return [home, *(Path(b) for b in bases)]


def _check_safe(path: Path) -> None:
    target = _abs(path)
    if target == Path(target.anchor):
        raise ForgetError(f"refusing to delete {target}: it is a filesystem root")
    for keep in _protected():
        keep = _abs(keep)
        if keep == target or target in keep.parents:
            raise ForgetError(
                f"refusing to delete {target}: it holds {keep}; "
                "check DICTATE_DATA_DIR, DICTATE_CONFIG_DIR and DICTATE_CACHE_DIR"
            )


def _abs(path: Path) -> Path:
    return Path(os.path.abspath(path))  # normalised, but symlinks are not followed


def _without_nested(items: list[Item]) -> list[Item]:
    # macOS keeps data and settings in one folder; Windows puts the cache inside the data folder.
    kept: list[Item] = []
    for item in sorted(items, key=lambda i: len(_abs(i.path).parts)):
        here = _abs(item.path)
        for n, outer in enumerate(kept):
            there = _abs(outer.path)
            if here == there:
                kept[n] = replace(outer, what=f"{outer.what}, {item.what}")
                break
            if there in here.parents:
                break  # inside a folder that goes anyway
        else:
            kept.append(item)
    return kept


def check_not_running() -> None:
    """Raise ForgetError while the app runs (it answers on the control socket)."""
    if not hasattr(socket, "AF_UNIX"):
        return  # Windows: no control socket; files the app holds open fail to delete instead
    from dictate.control import ipc

    try:
        ipc.send("status", timeout=1.0)
    except ipc.NotRunning:
        return
    except ipc.ControlError as exc:
        raise ForgetError(f"cannot tell whether dictate is running ({exc}); quit it first") from exc
    raise ForgetError("dictate is running: quit it (tray menu → Quit), then run this again")


def remove(items: list[Item]) -> list[str]:
    """Delete `items`; returns one line per item removed. Raises OSError on the first failure."""
    done = []
    for item in items:
        if item.autostart:
            autostart.disable()  # a file, or the Windows registry value
        elif item.hub_revisions:
            from huggingface_hub import scan_cache_dir

            hub = item.path.parent
            scan_cache_dir(hub).delete_revisions(*item.hub_revisions).execute()
            if item.path.is_dir():  # what the revisions did not cover (refs, partial files)
                shutil.rmtree(item.path)
        elif item.path.is_dir() and not item.path.is_symlink():
            shutil.rmtree(item.path)
        else:
            item.path.unlink(missing_ok=True)
        done.append(f"removed {item.what}: {item.path}")
    return done


def run(
    include_models: bool = False,
    assume_yes: bool = False,
    *,
    ask: Callable[[str], str] = input,
) -> int:
    """The `dictate --forget` command: list, confirm (unless `assume_yes`), delete, report."""
    try:
        check_not_running()
        items = plan(include_models)
    except ForgetError as exc:
        print(f"dictate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not items:
        print("dictate has no data on this machine: nothing to forget")
        return EXIT_OK
    print("This deletes, for good:")
    for item in items:
        print(f"  {item.what}: {item.path}{_size(item.path, item.size)}")
    if not assume_yes:
        try:
            answer = ask("Delete all of this? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing was deleted")
            return EXIT_FAILED
    try:
        for line in remove(items):
            print(line)
    except OSError as exc:
        print(
            f"dictate: could not delete {exc.filename or ''}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if not include_models:
        print("models in the Hugging Face cache were kept (--include-models deletes them)")
    return EXIT_OK


def _size(path: Path, known: int | None = None) -> str:
    try:
        if known is not None:
            total = known
        elif path.is_dir():
            total = sum(
                p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()
            )
        elif path.is_file():
            total = path.stat().st_size
        else:
            return ""
    except OSError:
        return ""
    return f" ({total / 1e6:.1f} MB)" if total >= 1e5 else f" ({total / 1e3:.0f} kB)"
