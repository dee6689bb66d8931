"""The ``hf-tiktokactions <step>`` command (also ``python -m hf_tiktokactions <step>``): one subcommand per step.

Each subcommand parses its options dataclass and calls the step's Python function (see ``hf_tiktokactions.steps``);
``hf-tiktokactions <step> --help`` lists every option. Options are named after their dataclass fields and accepted
in both spellings (``--output_dir`` and ``--output-dir``). The training steps also read ``--config RECIPE.yaml``
and run under ``accelerate launch -m hf_tiktokactions pretrain ...`` or ``torchrun -m hf_tiktokactions ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .cli_errors import USER_ERROR_EXIT_CODE, report_error, run_cli

EXIT_LEFT_FOR_RERUN = 3


@dataclass(frozen=True)
class Step:
    """One subcommand: its Python function and options class(es), both ``module:name`` (imported on use)."""

    name: str
    function: str
    options: str | tuple[str, ...]
    help: str
    recipe: bool = False  # the options come from ``--config RECIPE.yaml`` plus overrides (the training steps)
    exit_code: Callable[[Any], int] | None = None  # the exit status a result asks for (default 0)
    error_exit_code: int = USER_ERROR_EXIT_CODE  # the exit status of a user error
    rerun_hint: str = "rerun the same command to resume"  # after Ctrl-C / SIGTERM


def _quota_exit(result: Any) -> int:
    """Exit status 3 when the Research API's daily quota stopped the run (rerun after the reset); 4 when the run
    finished but the API sent ids that are not digits only (listed in ``invalid_videos.jsonl``)."""
    from .collection.collect import EXIT_QUOTA_EXHAUSTED
    from .output_guard import EXIT_INVALID_IDS

    stopped = result.status == "quota_exhausted" if hasattr(result, "status") else result["refresh"]["stopped"]
    if stopped:
        return EXIT_QUOTA_EXHAUSTED
    return EXIT_INVALID_IDS if getattr(result, "invalid_videos", 0) else 0


def _download_exit(result: Any) -> int:
    """Exit status 4 when some ids of the metadata were not Research API ids (in the manifest as "invalid")."""
    from .output_guard import EXIT_INVALID_IDS

    return EXIT_INVALID_IDS if result.invalid else 0


def _curate_exit(result: Any) -> int:
    """Exit status 3 when videos whose worker was killed from outside were left for the rerun."""
    return EXIT_LEFT_FOR_RERUN if result.left_for_rerun else 0


def _purge_exit(log: dict) -> int:
    return _quota_exit(log) if "refresh" in log else 0


_RESUME_FROM_CHECKPOINT = "rerun it with --resume latest to continue from the newest checkpoint"

STEPS = {
    step.name: step
    for step in (
        Step(
            "collect",
            "steps.collection:collect",
            "steps.collection:CollectOptions",
            "collect video metadata for hashtags through the TikTok Research API",
            exit_code=_quota_exit,
            error_exit_code=1,
        ),
        Step(
            "download",
            "steps.collection:download",
            "steps.collection:DownloadOptions",
            "download collected videos",
            exit_code=_download_exit,
        ),
        Step(
            "curate",
            "steps.curation:curate",
            "steps.curation:CurateOptions",
            "videos -> clips, metadata, index",
            exit_code=_curate_exit,
        ),
        Step("stats", "steps.curation:stats", "steps.curation:StatsOptions", "statistics, figures, dataset card"),
        Step("push-index", "steps.curation:push_index", "steps.curation:PushIndexOptions", "push the index (private)"),
        Step(
            "purge",
            "steps.curation:purge",
            "steps.curation:PurgeOptions",
            "retention: delete videos, or drop unavailable ones",
            exit_code=_purge_exit,
        ),
        Step("blur-faces", "steps.curation:blur_faces", "steps.curation:BlurFacesOptions", "blur faces in clips"),
        Step(
            "pretrain",
            "training.pretraining:pretrain",
            "training.arguments:PretrainArguments",
            "pre-train VideoMAE V2 with Accelerate",
            recipe=True,
            rerun_hint=_RESUME_FROM_CHECKPOINT,
        ),
        Step(
            "finetune",
            "training.finetuning:finetune",
            ("training.arguments:FinetuneArguments", "transformers:TrainingArguments"),
            "fine-tune with Trainer and run the multi-view test",
            recipe=True,
            rerun_hint=_RESUME_FROM_CHECKPOINT,
        ),
        Step(
            "compare-init",
            "training.experiments:compare_init",
            "training.experiments:CompareArguments",
            "fine-tune from index vs target pre-training vs scratch",
            recipe=True,
        ),
        Step(
            "scaling-study",
            "training.experiments:scaling_study",
            "training.experiments:ScalingArguments",
            "pre-train on N videos for each N, fine-tune, report",
            recipe=True,
        ),
        Step(
            "convert", "steps.hub:convert", "steps.hub:ConvertOptions", "convert an official or transformers checkpoint"
        ),
        Step(
            "export",
            "steps.hub:export",
            "steps.hub:ExportOptions",
            "write the Hub folder of a fine-tuned or pre-trained model",
        ),
        Step("push", "steps.hub:push", "steps.hub:PushOptions", "export and upload a fine-tuned or pre-trained model"),
        Step("space", "steps.hub:space", "steps.hub:SpaceOptions", "serve the Gradio Space on a model"),
        Step(
            "quickstart",
            "quickstart:quickstart",
            "quickstart:QuickstartOptions",
            "the whole loop on the embedded synthetic set (minutes on a CPU)",
        ),
    )
}


def _load(reference: str) -> Any:
    module, name = reference.split(":")
    module = module if module == "transformers" else f"{__package__}.{module}"
    return getattr(importlib.import_module(module), name)


def options_classes(step: Step) -> type | tuple[type, ...]:
    """The options dataclass of ``step`` (a tuple for ``finetune``: ``FinetuneArguments, TrainingArguments``)."""
    if isinstance(step.options, tuple):
        return tuple(_load(reference) for reference in step.options)
    return _load(step.options)


def parse_step_options(name: str, argv: list[str] | None, prog: str | None = None) -> Any:
    """Parse ``argv`` into the options of step ``name`` (a tuple of instances for ``finetune``)."""
    step = STEPS[name]
    prog = prog or f"hf-tiktokactions {name}"
    types = options_classes(step)
    if step.recipe:
        from .training.arguments import parse_with_config

        return parse_with_config(types, argv, prog=prog)
    from .steps.options import parse_options

    first = types[0] if isinstance(types, tuple) else types
    return parse_options(types, argv, prog=prog, description=first.__doc__)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's end of job) ends a step as Ctrl-C does, so it stops its workers and keeps
    what it finished, instead of dying at once and leaving worker processes behind. (Ray installs its own handler
    once started: ``curate --engine ray`` exits at once, its actors stopped by Ray.)"""

    def interrupt(signal_number, frame) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def run_step(name: str, argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse the options of step ``name``, call its function, return the exit status (what the scripts call)."""
    from .errors import TikTokActionsError

    step = STEPS[name]
    try:
        options = parse_step_options(name, argv, prog)
    except TikTokActionsError as error:  # bad arguments
        report_error(error)
        return USER_ERROR_EXIT_CODE
    # The training steps keep SIGTERM's default: a launcher stops its ranks with it, and a rank blocked in a
    # collective would run a Python handler only when the collective returns.
    stopping = contextlib.nullcontext() if step.recipe else _sigterm_as_interrupt()
    try:
        with stopping:
            result = _load(step.function)(*(options if isinstance(options, tuple) else (options,)))
    except KeyboardInterrupt:
        print(f"interrupted; what was finished is saved, {step.rerun_hint}", file=sys.stderr)
        return 130
    except TikTokActionsError as error:
        report_error(error)
        return step.error_exit_code
    return step.exit_code(result) if step.exit_code else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-tiktokactions", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for step in STEPS.values():
        # each step parses its own options (``hf-tiktokactions STEP --help``)
        sub.add_parser(step.name, help=step.help, add_help=False, prefix_chars="\0")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in STEPS:
        return run_step(argv[0], argv[1:])
    build_parser().parse_args(argv)  # --help, or an unknown step: argparse prints the list of steps and exits
    return USER_ERROR_EXIT_CODE


def entry_point() -> None:
    sys.exit(run_cli(main))
