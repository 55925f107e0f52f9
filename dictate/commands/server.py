"""`dictate server [show|use URL|off]`: choose the transcription server without the tray (a
headless machine, a script), the same settings and key store as the tray's Engine → Server….

The API key is read from standard input (`--api-key-stdin`; a prompt that does not echo when
it is a terminal), never from the command line, which other users see in `ps` and the shell
keeps in its history. It goes to the system keyring or a 0600 file, never settings.json.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dictate.config import Settings
    from dictate.remote.keys import KeyStore

APPLIES = "the app uses it from its next start (the tray's Engine → Server… applies at once)"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "server",
        help="show or choose the transcription server the app sends dictations to",
        description="Show (no action), choose (`use URL`) or stop using (`off`) a transcription "
        "server (dictate serve, vLLM, faster-whisper-server...). The same settings as the "
        "tray's Engine → Server…; the API key is kept in the system keyring or a 0600 file.",
    )
    actions = s.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("show", help="the server settings (never the key itself)")
    use = actions.add_parser("use", help="send dictations and files to this server")
    use.add_argument("url", metavar="URL", help="e.g. https://gpu-box:8000")
    use.add_argument("--model", help="model name to ask for (default: keep, else whisper-1)")
    key = use.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key-stdin",
        action="store_true",
        help="read the API key from standard input (a hidden prompt on a terminal)",
    )
    key.add_argument("--no-api-key", action="store_true", help="forget a kept key for this URL")
    use.add_argument(
        "--insecure",
        action="store_true",
        help="allow plain http:// to another machine (unencrypted: your own network only)",
    )
    use.add_argument("--ca-file", metavar="PEM", help="trust this CA (a self-signed server)")
    actions.add_parser("off", help="transcribe on this computer again (the settings are kept)")
    return s


def run(args: argparse.Namespace, keys: KeyStore | None = None) -> int:
    from dictate import config
    from dictate.remote.keys import KeyStore

    store = keys or KeyStore()
    settings, warnings = config.load()
    for warning in warnings:
        _say(warning)
    action = args.action or "show"
    if action == "show":
        return _show(settings, store)
    if action == "off":
        config.save(replace(settings, engine="local"))
        _say(f"dictations and files stay on this computer; {APPLIES}")
        return 0
    return _use(args, settings, store)


def _use(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    from pathlib import Path

    from dictate import config
    from dictate.remote.client import RemoteError, check_url

    try:
        url = check_url(args.url, allow_insecure=args.insecure)
    except RemoteError as exc:
        hint = " (here: --insecure)" if "allow insecure" in str(exc) else ""
        _say(f"{exc}{hint}")
        return 2
    ca_file = ""
    if args.ca_file:
        ca = Path(args.ca_file).expanduser().resolve()
        if not ca.is_file():
            _say(f"{ca}: no such file")
            return 2
        ca_file = str(ca)
    key = None
    if args.api_key_stdin:
        key = _read_key()
        if not key:
            _say("no API key on standard input")
            return 2
    new = replace(
        settings,
        engine="server",
        server_url=url,
        server_model=(args.model or "").strip() or settings.server_model or "whisper-1",
        server_insecure=args.insecure,
        server_ca_file=ca_file,
    )
    new, problems = new.validated()
    if problems:
        _say("; ".join(problems))
        return 2
    if key:
        store.set(url, key)
    elif args.no_api_key:
        store.delete(url)
    config.save(new)
    _say(f"dictations and files go to {url} (model {new.server_model}); {APPLIES}")
    return _show(new, store)


def _read_key() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("API key (not shown): ").strip()
    return sys.stdin.readline().strip()


def _show(settings: Settings, store: KeyStore) -> int:
    engine = "server" if settings.engine == "server" else "this computer"
    print(f"engine: {engine}")
    if settings.server_url:
        kept = store.get(settings.server_url) is not None
        print(f"server: {settings.server_url}")
        print(f"model: {settings.server_model}")
        print(f"API key: {'kept in ' + store.where if kept else 'none'}")
        if settings.server_insecure:
            print("plain http:// allowed to another machine")
        if settings.server_ca_file:
            print(f"trusted CA: {settings.server_ca_file}")
    return 0


def _say(message: str) -> None:
    print(f"dictate: {message}", file=sys.stderr, flush=True)
