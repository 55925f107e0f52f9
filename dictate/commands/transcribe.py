"""`dictate transcribe FILE...`: the headless file transcriber."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dictate.errors import DictateError

PROGRESS_AFTER_S = 30.0  # shorter files finish before a bar would be worth drawing


def _say(message: str) -> None:
    print(f"dictate: {_one_line(message)}", file=sys.stderr, flush=True)


def _one_line(text: str) -> str:
    """Control characters escaped: a file name may hold a newline, and each message is one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _output_plan(args: argparse.Namespace) -> tuple[Path | None, bool] | str:
    """(output path, is a folder) or an error message."""
    if args.output is None:
        if len(args.files) > 1 and args.format in ("srt", "vtt"):
            return "several files in srt/vtt need -o FOLDER (one subtitle file per input)"
        return None, False
    out = Path(args.output).expanduser()
    is_dir = len(args.files) > 1 or out.is_dir() or args.output.endswith(("/", "\\"))
    if is_dir:
        if out.exists() and not out.is_dir():
            return f"{out} is a file; with several inputs -o must be a folder"
        out.mkdir(parents=True, exist_ok=True)
    return out, is_dir


def run(args: argparse.Namespace) -> int:
    from dictate.audio.decode import probe

    plan = _output_plan(args)
    if isinstance(plan, str):
        _say(plan)
        return 2
    out, out_is_dir = plan

    # Check every file before loading the model: a typo should not cost a 7 s model load.
    infos: list = []
    for name in args.files:
        try:
            infos.append(probe(name))
        except DictateError as exc:
            _say(str(exc))
            infos.append(None)
    if not any(infos):
        if args.format == "txt" and out is None and len(args.files) > 1:
            sys.stdout.write("\n" * len(args.files))
        return 1

    try:
        engine = _load_engine(args)
    except DictateError as exc:
        _say(str(exc))
        return 2

    from dictate.engine.options import TranscribeOptions

    options = TranscribeOptions(
        language=args.language,
        prompt=args.prompt,
        beam_size=args.beam_size,
        use_gate=not args.no_gate,
    )
    if args.temperature_fallback:
        options = options.with_fallback()

    failed = False
    collected: list[dict] = []
    for name, info in zip(args.files, infos):
        segments = None
        if info is not None:
            try:
                segments = _transcribe_one(engine, info, options, args.progress)
            except DictateError as exc:
                _say(str(exc))
            except Exception as exc:  # a bug must not stop the rest of the batch
                _say(f"{name}: internal error: {type(exc).__name__}: {exc}")
        failed |= segments is None
        meta = _meta(name, info, engine, args)
        if segments is not None and out is not None:
            from dictate.export import write

            target = out / f"{Path(name).stem}.{args.format}" if out_is_dir else out
            try:
                write(segments, args.format, target, meta=meta)
            except OSError as exc:
                _say(f"{target}: cannot write ({exc.strerror or exc})")
                failed = True
        elif out is None:
            collected.append({"segments": segments, "meta": meta})
    if out is None:
        _print_all(collected, args.format)
    return 1 if failed else 0


def _print_all(results: list[dict], fmt: str) -> None:
    from dictate.export import render

    if fmt == "txt":  # one line per input file, in order, empty for a file that failed
        for r in results:
            text = render(r["segments"], "txt").strip() if r["segments"] is not None else ""
            print(" ".join(text.split()))
    elif fmt == "json" and len(results) > 1:
        docs = [
            json.loads(render(r["segments"], "json", meta=r["meta"]))
            if r["segments"] is not None
            else {**r["meta"], "error": True}
            for r in results
        ]
        print(json.dumps(docs, ensure_ascii=False, indent=2))
    else:
        for r in results:
            if r["segments"] is not None:
                sys.stdout.write(render(r["segments"], fmt, meta=r["meta"]))
    sys.stdout.flush()


def _meta(name: str, info, engine, args: argparse.Namespace) -> dict:
    meta: dict = {"file": name}
    if info is not None and info.duration_s is not None:
        meta["duration"] = round(info.duration_s, 3)
    if engine.loaded:
        meta["model"] = engine.info.model
        meta["device"] = engine.info.device
    if args.language:
        meta["language"] = args.language
    return meta


def _load_engine(args: argparse.Namespace):
    from dictate.engine.transcriber import Engine

    engine = Engine(
        args.model,
        device=args.device,
        dtype=args.dtype,
        assistant=args.assistant,
        on_notice=lambda message: _say(f"note: {message}"),
        progress=_load_progress(),
    )
    engine.load()
    return engine


def _load_progress():
    """Download bytes as a bar on stderr (only when it is a terminal); other steps as lines."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    state: dict = {}

    def report(p) -> None:
        if p.stage == "download" and p.total:
            # One bar per download: the model's, then its assistant's (named in the message).
            desc = f"downloading {p.message}" if p.message else "downloading"
            bar = state.get(desc) or tqdm(
                total=p.total, unit="B", unit_scale=True, desc=desc, file=sys.stderr
            )
            state[desc] = bar
            bar.total = p.total
            bar.update(p.done - bar.n)
        elif p.message:
            _say(p.message)

    return report


def _transcribe_one(engine, info, options, progress: bool | None):
    from tqdm import tqdm

    from dictate.audio.decode import stream_audio

    duration = info.duration_s
    show = (
        progress
        if progress is not None
        else (sys.stderr.isatty() and (duration is None or duration > PROGRESS_AFTER_S))
    )
    with tqdm(
        total=round(duration, 1) if duration else None,
        unit="s",
        desc=Path(info.path).name,
        file=sys.stderr,
        disable=not show,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]"
        if duration
        else None,
    ) as bar:

        def advance(done_s: float) -> None:
            bar.update(round(min(done_s, duration or done_s), 1) - bar.n)

        return list(engine.transcribe_long(stream_audio(info.path), options, on_progress=advance))
