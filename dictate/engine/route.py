"""The decoding route of one pass, decided once from the options and the loaded model's facts.

Which decoder runs (dictate's lean greedy loop or transformers' `generate()`), which CPU speed
levers serve it (a short encoder window, int8 copies, the screened output layer) and what the
decoder is told (language, prompt, token budget) all follow from the `TranscribeOptions` and a
few facts about the model. `decide` makes every one of those choices here, into a frozen
`Route`; the inference pass only follows it, and builds `generate()`'s arguments
(`Route.generate_kwargs`) where `generate()` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dictate.engine import greedy
from dictate.engine.options import TranscribeOptions
from dictate.errors import ModelError

# Decoder positions taken besides the prompt and the answer: <|startoftranscript|>, language,
# task and <|notimestamps|> (the prompt's own <|startofprev|> is in its ids).
START_TOKENS = 4


@dataclass(frozen=True)
class ModelFacts:
    """What the route depends on about the loaded model (and where it runs)."""

    label: str  # how the model is named in messages
    english_only: bool  # trained on English only (a .en model, or the distil-large-v3 family)
    force_english: bool  # English-only with a multilingual vocabulary: "English" said in tokens
    # The model's generation config: its special token ids, suppress lists, is_multilingual.
    generation_config: Any = field(compare=False)
    max_positions: int = 448  # the decoder's positions (prompt + start tokens + answer)
    lean: bool = True  # the lean greedy loop knows how to run this model (`greedy.supports`)
    assistant: bool = False  # a draft model for speculative decoding is loaded
    device: str = "cpu"  # "cpu", "cuda:0", "mps"

    @property
    def multilingual_vocabulary(self) -> bool:
        return bool(getattr(self.generation_config, "is_multilingual", False))


@dataclass(frozen=True)
class Route:
    """How one pass decodes; made by `decide`, read by `inference.Pass`."""

    timestamps: bool  # timestamp tokens (files), else <|notimestamps|> (dictation)
    max_new_tokens: int  # the answer's budget (already shortened to fit a prompt)
    beams: int = 1
    # More than one: generate()'s temperature fallback, with these thresholds.
    temperatures: tuple[float, ...] = (0.0,)
    compression_ratio_threshold: float | None = None
    logprob_threshold: float | None = None
    task: str | None = None  # what generate() is told; None: nothing (an English vocabulary)
    language: str | None = None  # as given to generate(); None: not told (detected, or .en)
    prompt_ids: tuple[int, ...] = ()  # <|startofprev|> and the prompt's tokens
    assistant: bool = False  # speculative decoding with the loaded draft model
    # The lean decoder's plan; None: generate() decodes (beams, fallback, an assistant,
    # language detection, timestamps after a prompt, a model the loop does not know).
    plan: greedy.DecodePlan | None = None
    short_window: bool = False  # the encoder may run over clip + margin instead of 30 s
    int8_encoder: bool = False  # the encoder's int8 copy may serve (where one can be made)
    int8_decoder: bool = False  # the decoder's int8 layers may serve (where they can be made)
    screen: bool = True  # the lean loop may find the arg-max through the int8 screen
    windows_per_batch: int = 1  # file windows the lean loop may decode together
    spoken_language: str | None = None  # the language the decoder works in; None: detected

    @property
    def fallback(self) -> bool:
        """generate() with temperature fallback (which re-reads the input features)."""
        return len(self.temperatures) > 1

    def generate_kwargs(self, assistant_model: Any = None, device: str = "cpu") -> dict[str, Any]:
        """generate()'s arguments for this route: the draft model where the route takes one,
        the prompt's ids as a tensor on `device`."""
        kwargs: dict[str, Any] = {
            "num_beams": self.beams,
            "return_timestamps": self.timestamps,
            "do_sample": False,
            "max_new_tokens": self.max_new_tokens,
        }
        if self.task is not None:
            kwargs["task"] = self.task
        if self.language is not None:
            kwargs["language"] = self.language
        if self.prompt_ids:
            kwargs["prompt_ids"] = torch.tensor(self.prompt_ids, dtype=torch.long, device=device)
        if self.fallback:
            kwargs["temperature"] = self.temperatures
            kwargs["compression_ratio_threshold"] = self.compression_ratio_threshold
            kwargs["logprob_threshold"] = self.logprob_threshold
        if self.assistant:
            if assistant_model is None:
                raise ValueError("this route decodes with an assistant model; none was given")
            kwargs["assistant_model"] = assistant_model
        return kwargs


def decide(
    options: TranscribeOptions,
    facts: ModelFacts,
    *,
    timestamps: bool,
    max_new_tokens: int,
    prompt_ids: tuple[int, ...] = (),
) -> Route:
    """The route for one pass. `prompt_ids` are the tokenizer's prompt ids for
    `options.prompt` (empty without one). Raises ModelError for a language an English-only
    model cannot transcribe."""
    # What the decoder is told.
    task: str | None = None
    language: str | None = None
    if facts.english_only:
        if options.language not in (None, "en", "english"):
            raise ModelError(
                f"{facts.label} is English-only; choose a multilingual model "
                f"(e.g. large-v3-turbo) for language {options.language!r}"
            )
        if facts.force_english:  # a multilingual vocabulary: say "English" in tokens
            task, language = "transcribe", "en"
    else:
        task = "transcribe"
        language = options.language or None
    if not facts.multilingual_vocabulary:
        spoken: str | None = "en"  # an English-only vocabulary has no language token
    elif language is not None:
        spoken = greedy.language_token(language)[2:-2]
    else:
        spoken = None  # generate() detects it

    # The prompt, the start tokens and the answer share the decoder's positions: a long prompt
    # (or the previous window's text) shortens the answer's budget instead of making
    # generate() refuse the window.
    if prompt_ids:
        room = facts.max_positions - len(prompt_ids) - START_TOKENS
        max_new_tokens = max(1, min(max_new_tokens, room))

    beams = max(1, options.beam_size)
    fallback = len(options.temperatures) > 1
    assistant = facts.assistant and options.beam_size <= 1 and not fallback
    # The lean loop does plain greedy decoding; beams, the fallback, an assistant and
    # timestamps after a prompt are generate()'s.
    generate_only = beams > 1 or fallback or assistant or bool(timestamps and prompt_ids)
    plan = (
        None
        if generate_only
        else _lean_plan(options, facts, timestamps, language, prompt_ids, max_new_tokens)
    )

    # A vocabulary prompt loses spellings to the short window and the int8 layers ("comfy UI"
    # for "ComfyUI" on tiny.en); a context prompt (live dictation's text so far) has none.
    no_vocabulary = not prompt_ids or options.prompt_is_context
    cpu = facts.device == "cpu"
    # Only plain greedy decoding (the lean loop, or generate() with an assistant model), and
    # only on the CPU, where the encoder is most of the wait and where it was validated
    # (tiny.en); GPUs keep the window the models were trained on. Never with timestamps: they
    # count positions in Whisper's 30 s window.
    short_window = (
        (plan is not None or assistant)
        and not timestamps
        and options.short_window
        and no_vocabulary
        and cpu
    )
    # int8 copies: plain greedy dictation on the CPU only; files (timestamps) get the fp32
    # model, so their tokens are generate()'s own (the int8 encoder cost words on the file
    # benchmark). English only: the word error rate was measured on English, and on
    # multilingual base a German sentence lost its first half with them.
    english = language is None or greedy.language_token(language) == "<|en|>"
    quantise = plan is not None and not plan.timestamps and no_vocabulary and english and cpu
    batch = options.file_batch if plan is not None and timestamps and options.file_batch > 1 else 1
    return Route(
        timestamps=timestamps,
        max_new_tokens=max_new_tokens,
        beams=beams,
        temperatures=tuple(options.temperatures),
        compression_ratio_threshold=options.compression_ratio_threshold if fallback else None,
        logprob_threshold=options.logprob_threshold if fallback else None,
        task=task,
        language=language,
        prompt_ids=prompt_ids,
        assistant=assistant,
        plan=plan,
        short_window=short_window,
        int8_encoder=quantise and options.int8_encoder,
        int8_decoder=quantise and options.int8_decoder,
        screen=options.int8_screen,
        windows_per_batch=batch,
        spoken_language=spoken,
    )


def _lean_plan(
    options: TranscribeOptions,
    facts: ModelFacts,
    timestamps: bool,
    language: str | None,
    prompt_ids: tuple[int, ...],
    max_new_tokens: int,
) -> greedy.DecodePlan | None:
    """The lean decoder's plan for plain greedy decoding; None where it is turned off, or
    cannot run this model, or the model must detect the language."""
    if not options.lean_decoding or not facts.lean:
        return None
    config = facts.generation_config
    init = greedy.init_tokens(config, language, timestamps)
    if init is None:
        return None  # a multilingual model told no language: generate() detects one
    return greedy.plan_for(config, prompt_ids + init, max_new_tokens, timestamps)
