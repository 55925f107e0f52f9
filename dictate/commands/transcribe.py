"""`dictate transcribe FILE...`: the headless file transcriber."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dictate.errors import DictateError
from dictate.transcript import describe_gaps

if TYPE_CHECKING:
    from dictate.commands.progress import AudioBar

from dictate.cli import PROGRESS_AFTER_S


def _say(message: str) -> None:
    print(f"dictate: {_one_line(message)}", file=sys.stderr, flush=True)


def _tell(bar: AudioBar, message: str) -> None:
    """`_say` above the progress bar, which is drawn again below the line."""
    bar.write(f"dictate: {_one_line(message)}")


def _one_line(text: str) -> str:
    """Control characters escaped: a file name may hold a newline, and each message is one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Source:
    """One file to transcribe: `path` as given (or found in a folder given), and `rel`, its
    name under an output folder (the file's name, or its path below the folder given). An
    `error` is a folder given with nothing to transcribe: it fails as a bad file does."""

    path: str
    rel: Path
    error: str | None = None


@dataclass
class Inputs:
    """What the FILE arguments mean: the files, what to warn about (a folder too large to walk
    whole), and whether any argument was a folder."""

    sources: list[Source] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    folder: bool = False


def expand_inputs(names: Sequence[str]) -> Inputs:
    """Folders are walked as the window's drop is (files.media: media files only, hidden
    entries and symlinked folders skipped, sorted); anything else is kept as given, for the
    decoder to accept or explain."""
    from dictate.files.media import FOLDER_SCAN_LIMIT, media_files

    inputs = Inputs()
    for name in names:
        if not os.path.isdir(name):
            inputs.sources.append(Source(name, Path(Path(name).name)))
            continue
        inputs.folder = True
        found, cut = media_files([name])
        if cut:
            inputs.warnings.append(
                f"{name}: only the first {FOLDER_SCAN_LIMIT} entries of this folder were looked at"
            )
        if not found:  # a failed input, with its line in the output as a bad file has
            error = f"{name}: is a directory with no audio or video files in it"
            inputs.sources.append(Source(name, Path(Path(name).name), error))
        root = Path(os.path.abspath(name))
        inputs.sources += [
            Source(os.path.join(name, p.relative_to(root)), p.relative_to(root)) for p in found
        ]
    return inputs


@dataclass(frozen=True)
class OutputPlan:
    """Where each input's transcript goes: `targets[i]` for `sources[i]` (empty: stdout), and
    `folder`, the folder to create first (None when -o names a file)."""

    targets: list[Path]
    folder: Path | None = None


def plan_outputs(
    output: str | None,
    sources: Sequence[Source],
    fmt: str,
    *,
    folder_input: bool = False,
    overwrite: bool = False,
) -> OutputPlan | list[str]:
    """The -o rules, checked before any model is loaded, or what is wrong with them.

    Several inputs, or a folder, need -o to be a folder: an existing file there, or a new name
    that looks like a file (out.txt), is an error rather than a folder named out.txt. An
    existing transcript is never replaced without `overwrite`; a device or FIFO is written
    through and "-" is stdout (export.write)."""
    from dictate.export import FORMATS, would_replace

    several = len(sources) > 1 or folder_input
    if output is None or output == "-":
        if several and fmt in ("srt", "vtt"):
            return ["several files in srt/vtt need -o FOLDER (one subtitle file per input)"]
        return OutputPlan([])
    out = Path(output).expanduser()
    named_folder = output.endswith(("/", os.sep)) or out.is_dir()
    if not (several or named_folder):
        if would_replace(out) and not overwrite:
            return [f"{out} exists; --overwrite replaces it"]
        return OutputPlan([out])
    why = "with several inputs" if len(sources) > 1 else "with a folder as input"
    if os.path.lexists(out) and not out.is_dir():
        return [f"-o {output}: not a folder; {why} -o names a folder (one file per input)"]
    if not named_folder and out.suffix.lower().removeprefix(".") in FORMATS:
        return [
            f"-o {output} looks like a file name; {why} -o names a folder (one file per "
            f"input): add a / to mean a folder of that name"
        ]
    targets = [out / s.rel.with_name(f"{s.rel.stem}.{fmt}") for s in sources]
    problems: list[str] = []
    first: dict[Path, Source] = {}
    for source, target in zip(sources, targets, strict=True):
        if source.error:
            continue  # never written
        if target in first:
            problems.append(
                f"{first[target].path} and {source.path} would both be written to {target}"
            )
        first.setdefault(target, source)
        if not overwrite and would_replace(target):
            problems.append(f"{target} exists; --overwrite replaces it")
    return problems or OutputPlan(targets, out)


def run(args: argparse.Namespace) -> int:
    from dictate.audio.decode import probe

    inputs = expand_inputs(args.files)
    sources = inputs.sources
    for warning in inputs.warnings:
        _say(f"warning: {warning}")
    plan = plan_outputs(
        args.output, sources, args.format, folder_input=inputs.folder, overwrite=args.overwrite
    )
    if isinstance(plan, list):
        for problem in plan:
            _say(problem)
        return 2
    if not sources:
        return 1

    # Check every file before loading the model: a typo should not cost a 7 s model load.
    infos: list = []
    for source in sources:
        if source.error:
            _say(source.error)
            infos.append(None)
            continue
        try:
            infos.append(probe(source.path))
        except DictateError as exc:
            _say(str(exc))
            infos.append(None)
    streaming = not plan.targets and args.format == "txt"
    if not any(infos):
        if streaming and len(sources) > 1:
            sys.stdout.write("\n" * len(sources))
        return 1
    if plan.folder is not None:
        try:
            plan.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _say(f"{plan.folder}: cannot create this folder ({exc.strerror or exc})")
            return 2

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

    from dictate.commands.progress import AudioBar

    lengths = [i.duration_s if i is not None else 0.0 for i in infos]
    total = None if any(x is None for x in lengths) else sum(lengths)
    show = args.progress
    if show is None:
        show = sys.stderr.isatty() and (
            len(sources) > 1 or total is None or total > PROGRESS_AFTER_S
        )
    failed = False
    collected: list[dict] = []
    first = Path(sources[0].path).name
    with AudioBar(total, len(sources), enabled=show, first=first) as bar:
        # Plain text to stdout is printed as it comes (a long file shows text early): one line
        # per input file, or, on the terminal the bar is drawn on, one line per segment above it
        # (a line still being written would be drawn over by the bar). Other formats are whole
        # documents, written once the file is done.
        above = show and sys.stdout.isatty() and sys.stderr.isatty()
        for index, (source, info) in enumerate(zip(sources, infos, strict=True)):
            name = source.path
            bar.start_file(index, Path(name).name, info.duration_s if info else 0.0)
            segments, gaps = None, []
            line = _Line(bar if above else None) if streaming else None
            if info is not None:
                try:
                    segments, gaps = _transcribe_one(
                        engine, info, options, bar, line.add if line else None
                    )
                except DictateError as exc:
                    _tell(bar, str(exc))
                except Exception as exc:  # a bug must not stop the rest of the batch
                    _tell(bar, f"{name}: internal error: {type(exc).__name__}: {exc}")
            bar.end_file(failed=segments is None)
            if line is not None:
                line.end()
            failed |= segments is None
            meta = _meta(name, info, engine, args)
            if gaps:  # the JSON export lists speech that gave no text; the others cannot say it
                meta["gaps"] = [{"start": g.start, "end": g.end} for g in gaps]
            if segments is not None and plan.targets:
                in_folder = plan.folder is not None
                failed |= not _save(segments, args, plan.targets[index], meta, bar, in_folder)
            elif not plan.targets:
                collected.append({"segments": segments, "meta": meta})
    if not plan.targets and not streaming:
        _print_all(collected, args.format)
    return 1 if failed else 0


def _save(
    segments, args: argparse.Namespace, target: Path, meta: dict, bar, in_folder: bool
) -> bool:
    from dictate.export import write

    try:
        if in_folder:  # a subfolder of a folder walked (-o FILE never creates folders)
            target.parent.mkdir(parents=True, exist_ok=True)
        write(segments, args.format, target, meta=meta, overwrite=args.overwrite)
    except FileExistsError:  # it appeared while this file was being transcribed
        _tell(bar, f"{target} exists; --overwrite replaces it")
        return False
    except OSError as exc:
        _tell(bar, f"{target}: cannot write ({exc.strerror or exc})")
        return False
    return True


class _Line:
    """One input file's text on stdout, written segment by segment: the words of each, single
    spaces between (what the whole file's `txt` export is, whitespace collapsed), as one line;
    or, given the bar drawn on the same terminal, each segment as a line above it."""

    def __init__(self, bar: AudioBar | None = None) -> None:
        self.started = False
        self.bar = bar

    def add(self, segment) -> None:
        words = segment.text.split()
        if not words:
            return
        if self.bar is not None:
            self.bar.write(" ".join(words), file=sys.stdout)
        else:
            sys.stdout.write((" " if self.started else "") + " ".join(words))
            sys.stdout.flush()
        self.started = True

    def end(self) -> None:
        if self.bar is None:
            sys.stdout.write("\n")  # an empty line for a file that gave nothing
            sys.stdout.flush()
        elif not self.started:
            self.bar.write("", file=sys.stdout)


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

    model, device, assistant, why = _model_choice(args)
    engine = Engine(
        model,
        device=device,
        dtype=args.dtype,
        assistant=assistant,
        on_notice=lambda message: _say(f"note: {message}"),
        progress=_load_progress(),
    )
    engine.load()
    if why:
        info = engine.info
        _say(f"note: {info.model} on {info.device}: {why}; --model picks another")
    return engine


def _model_choice(args: argparse.Namespace) -> tuple[str | None, str, str | None, str]:
    """(model, device, assistant, why) for the engine: what the command line says, and for
    what it leaves out the app's settings, so a file is transcribed as a dictation would be.
    `why` is empty when --model named the model."""
    from dictate import config
    from dictate.engine import catalog

    settings, warnings = config.load()
    for warning in warnings:
        _say(f"note: {warning}")
    device = args.device or settings.device
    if args.model:
        return args.model, device, args.assistant, ""
    assistant = args.assistant or catalog.draft_model(settings.model, settings.assistant)
    if settings.model:
        return settings.model, device, assistant, "the model chosen in dictate's settings"
    return None, device, assistant, "the default model for this computer"


def _load_progress():
    """Download bytes as a bar on stderr (only when it is a terminal); other steps as lines."""
    if not sys.stderr.isatty():
        return None
    from dictate.commands.progress import download_bar

    report, _ = download_bar(_say)
    return report


def _transcribe_one(engine, info, options, bar: AudioBar | bool | None = None, on_segment=None):
    """The file's segments and gaps (speech that gave no text, each also said on stderr); each
    segment also goes to `on_segment` as soon as the engine has it, and the seconds done to
    `bar` (None or a bool: no bar)."""
    from dictate.audio.decode import stream_audio
    from dictate.commands.progress import AudioBar

    if not isinstance(bar, AudioBar):
        name = Path(info.path).name
        with AudioBar(info.duration_s, 1, enabled=bool(bar), first=name) as own:
            own.start_file(0, name, info.duration_s)
            return _transcribe_one(engine, info, options, own, on_segment)

    gaps = []

    def gap(found) -> None:  # never silent: one line per stretch of speech without text
        gaps.append(found)
        where = describe_gaps([(found.start, found.end)])
        bar.write(
            f"dictate: warning: {_one_line(Path(info.path).name)}: no text came from the speech "
            f"at {where}"
        )

    segments = []
    for segment in engine.transcribe_long(
        stream_audio(info.path), options, on_progress=bar.advance, on_gap=gap
    ):
        segments.append(segment)
        if on_segment is not None:
            on_segment(segment)
    return segments, gaps
