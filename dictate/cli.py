"""The `dictate` command line. Heavy imports (torch, transformers) happen only in the commands
that transcribe, so quick commands answer at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dictate import __version__, choices

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEVICE_CHOICES = choices.values(choices.DEVICES)
FORMAT_CHOICES = ("txt", "srt", "vtt", "json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dictate",
        description="Local, private dictation and transcription with Distil-Whisper.",
    )
    parser.add_argument("--version", action="version", version=f"dictate {__version__}")
    app = parser.add_argument_group("the app (plain `dictate`); these override the settings")
    app.add_argument("--model", metavar="ID|PATH", help="model to load (see `dictate models`)")
    app.add_argument("--device", choices=DEVICE_CHOICES)
    app.add_argument("--hotkey", metavar="COMBO", help="pynput syntax, e.g. '<ctrl>+<alt>+d'")
    app.add_argument("--mode", choices=choices.values(choices.MODES), help="hotkey behaviour")
    app.add_argument(
        "--insert",
        dest="insert_method",
        choices=choices.values(choices.INSERT_METHODS),
        help="how text reaches the window",
    )
    app.add_argument(
        "--headless",
        action="store_true",
        help="no tray icon or windows: hotkey, control commands and the terminal only",
    )
    data = parser.add_argument_group("your data")
    data.add_argument(
        "--forget",
        action="store_true",
        help="delete your history, recorded audio, settings, dictate's cache and the "
        "launch-at-login entry, then exit (asks first)",
    )
    data.add_argument(
        "--include-models",
        action="store_true",
        help="with --forget: also delete the catalog models from the Hugging Face cache",
    )
    data.add_argument("--yes", action="store_true", help="with --forget: do not ask")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "transcribe",
        help="transcribe audio or video files (headless)",
        description="Transcribe audio or video files. Text goes to stdout (or -o); progress "
        "and errors go to stderr. Exit status 1 if any file failed.",
    )
    t.add_argument("files", nargs="+", metavar="FILE")
    _model_args(t)
    t.add_argument("--language", help="spoken language code (multilingual models), e.g. en, de")
    t.add_argument("--prompt", help="vocabulary hint: names and terms to spell right")
    t.add_argument("--format", choices=FORMAT_CHOICES, default="txt", help="output format")
    t.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file; a folder (one file per input) when several files are given",
    )
    t.add_argument("--beam-size", type=int, default=1, help="beam width (1 = greedy, fastest)")
    t.add_argument(
        "--temperature-fallback",
        action="store_true",
        help="retry at higher temperatures when the output looks broken (as openai/whisper)",
    )
    t.add_argument(
        "--no-gate", action="store_true", help="skip the speech gate (transcribe silence too)"
    )
    bar = t.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None)
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    t.set_defaults(handler=_transcribe)

    m = sub.add_parser("models", help="list known models and what is on this machine")
    m.add_argument("--download", metavar="MODEL", help="download a model into the HF cache")
    m.set_defaults(handler=_models)

    from dictate.commands.serve import add_parser as serve_parser  # stdlib only at import

    serve = serve_parser(sub)
    _model_args(serve)
    serve.set_defaults(handler=_serve)

    from dictate.commands.server import add_parser as server_parser  # stdlib only at import

    server_parser(sub).set_defaults(handler=_server)

    # Remote control of the running app, for hotkeys and scripts: answers at once, no heavy imports.
    for name, text in (
        ("toggle", "start dictating, or stop and transcribe (bind this to a hotkey)"),
        ("start", "start dictating"),
        ("stop", "stop dictating and transcribe"),
        ("cancel", "stop dictating and throw the recording away"),
        ("status", "print the app's state: ready, recording, transcribing, loading model"),
    ):
        c = sub.add_parser(
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]} (in the running app). "
            "Exit status 1 if dictate is not running.",
        )
        c.set_defaults(handler=_control)
    return parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        metavar="ID|PATH",
        help="catalog name (see `dictate models`), hub id, model folder (transformers or "
        "CTranslate2/faster-whisper), or `embedded`",
    )
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), help="override")
    p.add_argument(
        "--assistant",
        metavar="ID|PATH",
        help="draft model for speculative decoding: the same text, faster on a GPU "
        "(e.g. --model large-v3 --assistant distil-large-v3)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.forget:
        if args.command is not None:
            parser.error("--forget takes no command")
        from dictate.integration import forget

        return forget.run(include_models=args.include_models, assume_yes=args.yes)
    if args.include_models or args.yes:
        parser.error("--include-models and --yes go with --forget")
    if args.command is None:
        return _app(args)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("dictate: interrupted", file=sys.stderr)
        return 130


def _transcribe(args: argparse.Namespace) -> int:
    from dictate.commands.transcribe import run

    return run(args)


def _app(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dictate import config
    from dictate.app import run

    settings, warnings = config.load()
    overrides = {
        k: getattr(args, k)
        for k in ("model", "device", "hotkey", "mode", "insert_method")
        if getattr(args, k) is not None
    }
    settings, problems = replace(settings, **overrides).validated()
    if args.headless or not _has_display():
        if not args.headless:
            print("dictate: no display to show a tray on; running headless", file=sys.stderr)
        return run(settings, warnings + problems)
    try:
        from dictate.ui.qt_app import run as run_ui
    except ImportError as exc:  # PySide6 missing or unusable: the core still works
        print(f"dictate: no tray UI ({exc}); running headless", file=sys.stderr)
        return run(settings, warnings + problems)
    return run_ui(settings, warnings + problems)


def _has_display() -> bool:
    """Qt aborts the process when it cannot reach a display: look before starting it."""
    import os

    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _control(args: argparse.Namespace) -> int:
    from dictate.commands.control import run

    return run(args)


def _serve(args: argparse.Namespace) -> int:
    from dictate.commands.serve import run

    return run(args)


def _server(args: argparse.Namespace) -> int:
    from dictate.commands.server import run

    return run(args)


def _models(args: argparse.Namespace) -> int:
    from dictate.commands.models import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
