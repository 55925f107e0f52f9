"""`dictate transcribe FILE...`: the headless file transcriber."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dictate.errors import DictateError
from dictate.transcript import describe_gaps

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
    # Plain text to the terminal is printed as it comes (a long file shows text early); the
    # other formats are whole documents, written once the file is done.
    streaming = out is None and args.format == "txt"
    for name, info in zip(args.files, infos):
        segments, gaps = None, []
        line = _Line() if streaming else None
        if info is not None:
            try:
                segments, gaps = _transcribe_one(
                    engine, info, options, args.progress, line.add if line else None
                )
            except DictateError as exc:
                _say(str(exc))
            except Exception as exc:  # a bug must not stop the rest of the batch
                _say(f"{name}: internal error: {type(exc).__name__}: {exc}")
        if line is not None:
            line.end()  # one line per input file, in order, empty for a file that failed
        failed |= segments is None
        meta = _meta(name, info, engine, args)
        if gaps:  # the JSON export lists speech that gave no text; the others cannot say it
            meta["gaps"] = [{"start": g.start, "end": g.end} for g in gaps]
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
    if out is None and not streaming:
        _print_all(collected, args.format)
    return 1 if failed else 0


class _Line:
    """One input file's text as one line of stdout, written segment by segment: the words of
    each, single spaces between (what the whole file's `txt` export is, whitespace collapsed)."""

    def __init__(self) -> None:
        self.started = False

    def add(self, segment) -> None:
        words = segment.text.split()
        if words:
            sys.stdout.write((" " if self.started else "") + " ".join(words))
            sys.stdout.flush()
            self.started = True

    def end(self) -> None:
        sys.stdout.write("\n")
        sys.stdout.flush()


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
    from dictate.commands.progress import download_bar

    report, _ = download_bar(_say)
    return report


def _transcribe_one(engine, info, options, progress: bool | None, on_segment=None):
    """The file's segments and gaps (speech that gave no text, each also said on stderr); each
    segment also goes to `on_segment` as soon as the engine has it."""
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

        gaps = []

        def gap(found) -> None:  # never silent: one line per stretch of speech without text
            gaps.append(found)
            where = describe_gaps([(found.start, found.end)])
            bar.write(
                f"dictate: warning: {Path(info.path).name}: no text came from the speech at "
                f"{where}",
                file=sys.stderr,
            )

        segments = []
        for segment in engine.transcribe_long(
            stream_audio(info.path), options, on_progress=advance, on_gap=gap
        ):
            segments.append(segment)
            if on_segment is not None:
                on_segment(segment)
        return segments, gaps
