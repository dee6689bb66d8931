"""The VideoMAE V2 pre-training loop under Accelerate, readable top to bottom.

Determinism: the sampler shuffles with (seed, epoch); each item's crops and masks are drawn from
generators seeded by (seed, epoch, video index). So a run gives the same batches whatever the number
of DataLoader workers, and a resumed run (model, optimizer, RNG and progress restored from a checkpoint, the
consumed batches of the epoch skipped) continues exactly where the first one stopped, drop path included: the
resumed run's new loader iterators leave torch's random stream alone where the first run drew nothing
(:func:`_uninterrupted_run_drew_nothing_here`).

Gradient accumulation: an optimizer step takes ``gradient_accumulation_steps`` micro-batches of
``per_device_train_batch_size`` videos per process (the gradient of the mean of their losses, as DDP takes the
mean over ranks; gradients are all-reduced on the last one only). With the V2 decoder mask the clips of a batch
have different numbers of loss tokens, so this equals one batch of the total size up to that weighting (exactly
with ``decoder_mask_ratio`` 0); the micro-batches of an epoch that cannot fill a whole step are left out, as
``drop_last`` leaves out videos. Steps, checkpoints, the lr schedule and the lr scaling (by the total batch:
per-device batch x processes x accumulation, in videos) all count optimizer steps.

Divergence: a non-finite loss or gradient stops the run (``TrainingDiverged``); a checkpoint is saved only when
the weights are finite and sane, and the checkpoint of the weights that gave the non-finite loss is set aside.

Outputs in ``output_dir``: ``run_config.json`` (options, versions, processes), ``metrics.jsonl`` (one line
per logging step), ``checkpoints/step-N`` (model and optimizer as tensors, progress and
random states as JSON; see ``checkpointing.py``), ``reconstructions/step-N.png``, TensorBoard
logs in ``logs/``, the final model in ``final/`` (``VideoMAEv2ForPreTraining.from_pretrained``) and
``summary.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.data_loader import DataLoaderShard
from accelerate.state import AcceleratorState, is_initialized
from accelerate.utils import DistributedType, ProjectConfiguration, gather_object, set_seed
from torch.distributed.tensor import DTensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..atomic_files import write_json_atomic, write_text_atomic
from ..data.collate import PretrainCollator
from ..data.epoch_keys import EpochKeySampler
from ..data.pretrain_dataset import PretrainVideoDataset
from ..data.streaming_dataset import StreamingPretrainDataset, new_place, record_positions
from ..data.transforms import normalize_video
from ..errors import ConfigError
from ..layout import FINAL_MODEL_DIR, METRICS_FILE, RECONSTRUCTIONS_DIR, RUN_RECORD_FILE, RUN_SUMMARY_FILE
from ..modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining
from ..output_guard import output_folder, refuse_another_jobs_folder
from .arguments import PretrainArguments, to_json_dict
from .checkpointing import (
    TrainingProgress,
    checkpoint_root,
    completed_checkpoints,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)
from .distributed import (
    applied_strategy,
    check_wrap_classes,
    fsdp_requested,
    prepare_cpu_fsdp,
    require_requested_strategy,
)
from .divergence import TrainingDiverged, finite_or_none, largest_weight, weights_problem
from .model_init import build_pretraining_model, preset_config
from .optim import weight_decay_groups
from .pretrain_data import resolve_videos, streaming_rows
from .reconstructions import reconstruction_grid
from .resumed_runs import earlier_segments
from .schedules import cosine_with_warmup, warn_if_warmup_outlasts
from .skipped_videos import SkippedVideos

logger = logging.getLogger(__name__)


def build_model(args: PretrainArguments) -> VideoMAEv2ForPreTraining:
    overrides = dict(
        num_frames=args.num_frames,
        image_size=args.input_size,
        tubelet_size=args.tubelet_size,
        mask_ratio=args.mask_ratio,
        decoder_mask_ratio=args.decoder_mask_ratio,
        decoder_num_hidden_layers=args.decoder_depth,
        drop_path_rate=args.drop_path_rate,
        norm_pix_loss=args.norm_pix_loss,
    )
    if args.init_from:
        model = build_pretraining_model(args.init_from, overrides, Path(args.output_dir))
    else:
        model = VideoMAEv2ForPreTraining(preset_config(args.model_preset, **overrides))
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()
    return model


def make_accelerator(args: PretrainArguments) -> Accelerator:
    """The run's Accelerator: the launch config's strategy (DDP or FSDP) on GPUs, and on CPU ranks over gloo too."""
    on_gpu = torch.cuda.is_available()
    precision = args.mixed_precision if args.mixed_precision != "auto" else ("bf16" if on_gpu else "no")
    if fsdp_requested() and not on_gpu:
        prepare_cpu_fsdp()
    trackers = [t for t in args.report_to.split(",") if t and t != "none"]
    project = ProjectConfiguration(project_dir=args.output_dir, logging_dir=str(Path(args.output_dir) / "logs"))
    # Accelerate's state is one per process: after a fine-tuning in this process (an experiment driver), a
    # pre-training must keep its mixed precision.
    if is_initialized() and AcceleratorState().mixed_precision != precision:
        raise ConfigError(
            f"--mixed_precision {precision}: this process already trains with {AcceleratorState().mixed_precision} "
            "(e.g. an earlier fine-tuning of the same experiment); give both recipes the same mixed_precision"
        )
    return Accelerator(
        cpu=not on_gpu,
        mixed_precision=precision,
        log_with=trackers or None,
        project_config=project,
    )


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in name order: equal digests mean identical models."""
    digest = hashlib.sha256()
    for name, param in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import accelerate
    import transformers

    from .. import __version__

    return {
        "hf_tiktokactions": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "python": platform.python_version(),
    }


class MetricsFile:
    """``metrics.jsonl`` on the main process; on resume, lines past the resumed step are dropped."""

    def __init__(self, path: Path, resumed_step: int, enabled: bool) -> None:
        self.path, self.enabled = path, enabled
        if enabled and path.exists():
            kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= resumed_step]
            write_text_atomic(path, "".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(finite_or_none(record), allow_nan=False) + "\n")


@dataclasses.dataclass
class _Data:
    """The training data: the dataset, its collator and loader, and the number of videos in the whole index."""

    dataset: PretrainVideoDataset | StreamingPretrainDataset
    collator: PretrainCollator
    loader: DataLoader
    num_videos: int
    normalize_on_device: bool


@dataclasses.dataclass
class _Plan:
    """The numbers the loop runs by, all counted in optimizer steps, and the distributed strategy applied."""

    world: int
    accumulation: int
    round_videos: int  # videos of the epoch's order one micro-batch of every process takes
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    lr_peak: float
    lr_end: float
    lr_start: float
    strategy: dict
    sharded: bool


@dataclasses.dataclass
class _Tally:
    """What the loop counts between logging steps and for the summary."""

    first_loss: float | None = None
    last_loss: float | None = None
    window_start: float = dataclasses.field(default_factory=time.perf_counter)
    window_steps: int = 0
    skipped: SkippedVideos = dataclasses.field(default_factory=SkippedVideos)
    streamed_ids: list[str] = dataclasses.field(default_factory=list)  # rows trained on (--streaming), this call
    streaming: bool = False
    stream_place: dict | None = None  # this process's place in the streamed epoch (None: not known after a resume)


def pretrain(args: PretrainArguments) -> dict:
    """Run pre-training as configured; returns the summary (also written to ``summary.json``)."""
    # Setup: the accelerator (the launch's strategy), the seed, the output folder.
    accelerator = make_accelerator(args)
    set_seed(args.seed)
    output_dir = output_folder(args.output_dir, "--output_dir", make=False)  # made once --data is read
    refuse_another_jobs_folder(output_dir, "pretrain")
    # Before anything is built: a bad --resume, or checkpoints a run without it would overwrite, end here.
    resume_from = resolve_resume(args.resume, output_dir, announce=accelerator.is_main_process)

    # Data and model: one dense clip per video, num_sample crops of it, masks added by the collator.
    dataset, num_videos = _build_dataset(args, accelerator)
    output_folder(output_dir, "--output_dir")
    model = build_model(args)
    # Every process built the same model from the seed; from here each draws its own drop-path masks (crops and
    # masks come from keyed generators), as upstream seeds each rank with seed + rank.
    set_seed(args.seed + accelerator.process_index)
    data = _build_loader(args, accelerator, dataset, num_videos, model.config)
    # Optimization: AdamW at the lr scaled by the total batch, prepared for the launch's strategy.
    plan, model, optimizer = _build_optimization(args, accelerator, model, data)
    # Resume (model, optimizer, RNG, progress) and the run record.
    progress = _resume(accelerator, resume_from)
    stream_place = _stream_place(args, accelerator, dataset, progress, plan)  # before place_in_epoch re-counts
    place_in_epoch(progress, plan.round_videos, plan.accumulation, announce=accelerator.is_main_process)
    metrics = MetricsFile(output_dir / METRICS_FILE, progress.step, accelerator.is_main_process)
    run_record = _write_run_record(args, accelerator, output_dir, plan, data.num_videos, resume_from)

    # Watching: under FSDP a forward is collective (parameters are all-gathered), so every rank runs the preview.
    preview = _preview_batch(dataset, data.collator) if accelerator.is_main_process or plan.sharded else None
    preview_loss_start = _preview_loss(accelerator, model, preview) if preview is not None else None
    bar = tqdm(
        total=plan.total_steps,
        initial=progress.step,
        desc="pre-training",
        unit="step",
        disable=args.disable_tqdm or not accelerator.is_local_main_process,
    )
    tally = _Tally(streaming=args.streaming, stream_place=stream_place)
    if accelerator.is_main_process:  # one process carries the checkpoint's record of every rank's
        tally.skipped.carry_on(progress.skipped_videos)
    started = time.perf_counter() - progress.seconds  # a resumed run's clock goes on from its checkpoint's

    # The loop: micro-batches accumulate into optimizer steps; an epoch ends when no whole step is left in it.
    micro_batches_per_epoch = plan.steps_per_epoch * plan.accumulation
    loader_started = resume_from is None  # whether the uninterrupted run had started data.loader's iterator by now
    while progress.step < plan.total_steps:
        epoch_loader = (
            accelerator.skip_first_batches(data.loader, progress.batches_in_epoch)
            if progress.batches_in_epoch
            else data.loader
        )
        # The prepared loader passes its own epoch counter to the sampler on every __iter__: set it, not the sampler.
        epoch_loader.set_epoch(progress.epoch)
        batches = (
            epoch_loader
            if loader_started or not _uninterrupted_run_drew_nothing_here(epoch_loader, data.loader)
            else _batches_without_drawing(epoch_loader)
        )
        loader_started = loader_started or epoch_loader is data.loader
        loss_sum = torch.zeros((), device=accelerator.device)
        for batch in batches:
            if progress.batches_in_epoch >= micro_batches_per_epoch:
                break  # the rest of the epoch cannot fill a whole optimizer step
            if not _micro_batch(accelerator, model, batch, data, plan, progress, tally, loss_sum):
                continue
            step_loss, grad_norm, lr = _optimizer_step(args, accelerator, model, optimizer, plan, progress, loss_sum)
            tally.window_steps += 1
            bar.update(1)
            _log_step(accelerator, args, plan, progress, tally, metrics, bar, step_loss, grad_norm, lr)
            if preview is not None and args.reconstruction_steps and progress.step % args.reconstruction_steps == 0:
                _log_reconstruction(accelerator, model, preview, output_dir, progress.step)
            if args.save_steps and progress.step % args.save_steps == 0:
                _save_good_checkpoint(
                    accelerator, model, output_dir, progress, tally, plan, args.save_total_limit, started
                )
            if progress.step >= plan.total_steps:
                break
        if progress.batches_in_epoch >= micro_batches_per_epoch:
            progress.epoch += 1
            progress.batches_in_epoch = 0
            tally.stream_place = new_place()
    bar.close()

    # The end: the last checkpoint, the final model and the summary.
    _save_good_checkpoint(accelerator, model, output_dir, progress, tally, plan, args.save_total_limit, started)
    preview_loss_end = _preview_loss(accelerator, model, preview) if preview is not None else None
    outcome = {"preview_loss_start": preview_loss_start, "preview_loss_end": preview_loss_end, "started": started}
    return _finish(args, accelerator, model, output_dir, data, plan, progress, tally, run_record, outcome)


def _build_dataset(
    args: PretrainArguments, accelerator: Accelerator
) -> tuple[PretrainVideoDataset | StreamingPretrainDataset, int]:
    """The dataset and the number of videos in the whole index (a stream holds only this process's share)."""
    clip_options = dict(
        num_frames=args.num_frames,
        sampling_rate=args.sampling_rate,
        input_size=args.input_size,
        num_sample=args.num_sample,
        backend=args.decode_backend,
        seed=args.seed,
    )
    if args.streaming:
        dataset = streaming_dataset(args, accelerator, clip_options)
        return dataset, dataset.num_rows  # of the whole index; each process streams its share
    videos = resolve_videos(
        args.data,
        args.video_column,
        args.only_passed,
        args.hashtags,
        args.max_videos,
        args.subset_seed,
        args.hub_token_env,
    )
    dataset = PretrainVideoDataset(videos, **clip_options, decoded_cache_bytes=args.decoded_cache_mb * 2**20)
    return dataset, len(dataset)


def _build_loader(
    args: PretrainArguments,
    accelerator: Accelerator,
    dataset: PretrainVideoDataset | StreamingPretrainDataset,
    num_videos: int,
    config: VideoMAEv2Config,
) -> _Data:
    """The collator (masks; normalisation unless it runs on the device) and the loader (not yet prepared)."""
    normalize_on_device = (
        accelerator.device.type == "cuda" if args.normalize_on_device is None else args.normalize_on_device
    )
    collator = PretrainCollator(
        num_frames=args.num_frames,
        tubelet_size=args.tubelet_size,
        input_size=args.input_size,
        patch_size=config.patch_size,
        mask_ratio=args.mask_ratio,
        decoder_mask_ratio=args.decoder_mask_ratio,
        normalize=not normalize_on_device,
    )
    loader_options = dict(
        batch_size=args.per_device_train_batch_size,
        collate_fn=collator,
        drop_last=True,
        num_workers=args.dataloader_num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=args.dataloader_num_workers > 0,
    )
    if args.streaming:  # each rank reads its own shards: not sharded again by Accelerate, only put on the device
        loader = DataLoaderShard(dataset, device=accelerator.device, **loader_options)
    else:
        loader = DataLoader(dataset, sampler=EpochKeySampler(len(dataset), args.seed), **loader_options)
    return _Data(dataset, collator, loader, num_videos, normalize_on_device)


def _build_optimization(
    args: PretrainArguments, accelerator: Accelerator, model: VideoMAEv2ForPreTraining, data: _Data
) -> tuple[_Plan, torch.nn.Module, torch.optim.Optimizer]:
    """The optimizer at the lr scaled by the total batch; model, optimizer and loader (``data.loader`` is replaced)
    prepared for the launch's strategy; the schedule's numbers in optimizer steps."""
    world = accelerator.num_processes
    accumulation = args.gradient_accumulation_steps
    if accumulation < 1:
        raise ConfigError(f"--gradient_accumulation_steps {accumulation}: must be 1 or more")
    total_videos = args.per_device_train_batch_size * world * accumulation
    if data.num_videos // total_videos == 0:
        raise ConfigError(
            f"{data.num_videos} videos cannot fill one step of {total_videos} videos "
            f"({args.per_device_train_batch_size} per device x {world} processes x {accumulation} accumulation)"
        )
    scale = total_videos / 256
    lr_peak, lr_end, lr_start = (
        args.base_learning_rate * scale,
        args.min_learning_rate * scale,
        args.warmup_learning_rate * scale,
    )
    optimizer = torch.optim.AdamW(
        weight_decay_groups(model, args.weight_decay),
        lr=lr_peak,
        betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon,
    )
    check_wrap_classes(accelerator, model)
    if args.streaming:  # the stream is already this process's share
        model, optimizer = accelerator.prepare(model, optimizer)
    else:
        model, optimizer, data.loader = accelerator.prepare(model, optimizer, data.loader)
    strategy = applied_strategy(accelerator, model)
    require_requested_strategy(strategy)
    sharded = accelerator.distributed_type == DistributedType.FSDP
    steps_per_epoch = len(data.loader) // accumulation  # the loader yields this process's micro-batches
    total_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * steps_per_epoch)
    warmup_steps = args.warmup_steps if args.warmup_steps >= 0 else round(args.warmup_epochs * steps_per_epoch)
    if accelerator.is_main_process:
        warn_if_warmup_outlasts(warmup_steps, total_steps)
    round_videos = args.per_device_train_batch_size * world
    plan = _Plan(
        world,
        accumulation,
        round_videos,
        steps_per_epoch,
        total_steps,
        warmup_steps,
        lr_peak,
        lr_end,
        lr_start,
        strategy,
        sharded,
    )
    return plan, model, optimizer


def _uninterrupted_run_drew_nothing_here(epoch_loader, loader) -> bool:
    """Whether a resumed run's new iterator over ``epoch_loader`` starts where the uninterrupted run drew nothing.

    torch's DataLoader draws its workers' base seed from torch's CPU random stream each time it starts an iterator
    (a persistent-workers loader only once, then it resets the one it has); drop path draws from the same stream.
    The checkpoint's streams were saved mid-epoch, after the uninterrupted run had its iterator: the resumed run's
    iterator over the rest of that epoch (``epoch_loader`` is a skip loader) must not draw, nor, with persistent
    workers, its first iterator over ``loader`` at the next epoch. A loader without them draws at every epoch start,
    in both runs.
    """
    if epoch_loader is not loader:
        return True
    return bool(getattr(loader, "persistent_workers", False) and getattr(loader, "num_workers", 0) > 0)


def _batches_without_drawing(loader) -> Iterator:
    """``loader``'s batches, its start leaving torch's CPU random stream as it was (Accelerate's loader starts the
    underlying iterator, which draws, on the first ``next``)."""
    iterator = iter(loader)
    state = torch.get_rng_state()
    try:
        first = next(iterator)
    except StopIteration:
        return iter(())
    finally:
        torch.set_rng_state(state)
    return itertools.chain([first], iterator)


def _stream_place(
    args: PretrainArguments,
    accelerator: Accelerator,
    dataset: PretrainVideoDataset | StreamingPretrainDataset,
    progress: TrainingProgress,
    plan: _Plan,
) -> dict | None:
    """This process's place in the streamed epoch to go on recording from (None without ``--streaming``). A resume
    within an epoch hands the checkpoint's place to the dataset, which passes over the rows taken without decoding
    them; where the checkpoint has none this process can use (an older one, other processes, batches or workers),
    the consumed batches are decoded again and dropped, and the place in this epoch is not known.

    Called before ``place_in_epoch``: the checkpoint's batches are this run's when its ``videos_in_epoch`` is its
    micro-batches x this run's ``round_videos``. With another batch a device the loader would batch the placeholders
    otherwise (a worker's last one beside real items, its batches out of the loader's turn between workers)."""
    if not args.streaming:
        return None
    if not progress.batches_in_epoch:
        return new_place()
    places = progress.stream_places or []
    same_batches = progress.videos_in_epoch == progress.batches_in_epoch * plan.round_videos
    place = places[accelerator.process_index] if same_batches and len(places) == plan.world else None
    if place is not None and dataset.resume_at(progress.epoch, place, args.dataloader_num_workers):
        return {name: list(value) if isinstance(value, list) else value for name, value in place.items()}
    return None


def _resume(accelerator: Accelerator, resume_from: Path | None) -> TrainingProgress:
    """The progress to start from: a fresh one, or the one of the checkpoint ``resume_from`` (whose model,
    optimizer and random states are loaded into the prepared objects)."""
    if resume_from is None:
        return TrainingProgress()
    progress = load_checkpoint(accelerator, resume_from)
    accelerator.print(f"resumed from {resume_from} at step {progress.step}")
    return progress


def place_in_epoch(progress: TrainingProgress, round_videos: int, accumulation: int, announce: bool = True) -> None:
    """Express a resumed checkpoint's place in its epoch in this run's micro-batches (``progress`` is changed).

    ``batches_in_epoch`` counts one process's micro-batches, and the processes together have taken the first
    ``batches_in_epoch x round_videos`` videos of the epoch's order (the loader deals the batches out in turn). A
    checkpoint saved with another number of processes or another batch a device records ``videos_in_epoch``: the
    run goes on after them, at the first whole optimizer step of this run that takes none of them again.
    """
    videos = progress.videos_in_epoch
    if videos is None or videos == progress.batches_in_epoch * round_videos:
        return
    step_videos = round_videos * accumulation
    steps = math.ceil(videos / step_videos)
    progress.batches_in_epoch = steps * accumulation
    left_out = steps * step_videos - videos
    if announce:
        logger.warning(
            "the checkpoint was saved %d videos into epoch %d with another number of processes or batch a device; "
            "this run goes on from there with steps of %d videos%s",
            videos,
            progress.epoch,
            step_videos,
            f" ({left_out} videos of that epoch left out: no whole step of this run ends where it stopped)"
            if left_out
            else "",
        )


def _write_run_record(
    args: PretrainArguments,
    accelerator: Accelerator,
    output_dir: Path,
    plan: _Plan,
    num_videos: int,
    resume_from: Path | None,
) -> dict:
    """``run_config.json`` (on the main process) and the trackers' config; returns the record."""
    run_record = {
        "job": "pretrain",
        "args": to_json_dict(args),
        "versions": versions(),
        "num_processes": plan.world,
        "distributed": plan.strategy,
        "total_steps": plan.total_steps,
        "steps_per_epoch": plan.steps_per_epoch,
        "learning_rate": plan.lr_peak,
        "videos": num_videos,
        "resumed_from": str(resume_from) if resume_from else None,
    }
    if resume_from is not None:
        run_record["earlier_segments"] = earlier_segments(
            output_dir,
            run_record,
            _recorded_options,
            _BOOKKEEPING_OPTIONS,
            accelerator.is_main_process,
            length=("max_steps", "num_train_epochs"),
        )
    if accelerator.is_main_process:
        write_json_atomic(output_dir / RUN_RECORD_FILE, run_record)
    accelerator.init_trackers(
        "pretrain", config={k: v for k, v in to_json_dict(args).items() if isinstance(v, (int, float, str, bool))}
    )
    return run_record


# Options a resumed run may change without changing what is trained: how often it saves and logs, how it reads.
_BOOKKEEPING_OPTIONS = {
    "resume", "save_steps", "save_total_limit", "logging_steps",
    "reconstruction_steps", "disable_tqdm", "report_to", "dataloader_num_workers", "decoded_cache_mb",
}  # fmt: skip


def _recorded_options(record: dict) -> dict:
    """A run record's options that a resumed run is compared on: ``args`` and the number of processes (with the
    batch a device it makes the total batch, which scales the lr)."""
    return {**record.get("args", {}), "num_processes": record.get("num_processes")}


def _micro_batch(
    accelerator: Accelerator,
    model: torch.nn.Module,
    batch: dict,
    data: _Data,
    plan: _Plan,
    progress: TrainingProgress,
    tally: _Tally,
    loss_sum: torch.Tensor,
) -> bool:
    """Forward and backward of one micro-batch, its loss added to ``loss_sum`` (in place); True when it is the last
    one of an optimizer step."""
    tally.skipped.add(batch.pop("skipped_videos", ()))
    tally.streamed_ids.extend(batch.pop("video_ids", ()))
    positions = batch.pop("stream_positions", ())
    if tally.stream_place is not None:
        record_positions(tally.stream_place, positions)
    if data.normalize_on_device:
        batch["pixel_values"] = normalize_video(batch["pixel_values"])
    last_micro_batch = (progress.batches_in_epoch + 1) % plan.accumulation == 0
    # Gradients are all-reduced once per optimizer step, on its last micro-batch.
    with contextlib.nullcontext() if last_micro_batch else accelerator.no_sync(model):
        loss = model(**batch).loss
        accelerator.backward(loss / plan.accumulation)
    loss_sum += loss.detach().float()
    progress.batches_in_epoch += 1
    return last_micro_batch


def _optimizer_step(
    args: PretrainArguments,
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    plan: _Plan,
    progress: TrainingProgress,
    loss_sum: torch.Tensor,
) -> tuple[float, torch.Tensor, float]:
    """Clip, check for divergence (on every rank alike), set the lr and step; ``loss_sum`` is zeroed.

    Returns (the step's mean loss over ranks and micro-batches, the gradient norm, the lr used)."""
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm or float("inf"))
    if isinstance(grad_norm, DTensor):  # FSDP2: the norm over all shards, replicated on every rank
        grad_norm = grad_norm.full_tensor()
    # One all-reduce gives every rank the same verdict and the mean loss of the step.
    totals = accelerator.reduce(torch.stack([grad_norm.detach().float(), loss_sum]), "sum")
    step_loss = totals[1].item() / (plan.world * plan.accumulation)
    loss_sum.zero_()
    if not torch.isfinite(totals).all() and accelerator.mixed_precision != "fp16":
        _stop_diverged(accelerator, Path(args.output_dir), progress.step, step_loss)
    lr = cosine_with_warmup(
        progress.step, plan.total_steps, plan.lr_peak, plan.lr_end, plan.warmup_steps, plan.lr_start
    )
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    progress.step += 1
    return step_loss, grad_norm, lr


def _log_step(
    accelerator: Accelerator,
    args: PretrainArguments,
    plan: _Plan,
    progress: TrainingProgress,
    tally: _Tally,
    metrics: MetricsFile,
    bar: tqdm,
    step_loss: float,
    grad_norm: torch.Tensor,
    lr: float,
) -> None:
    """On a logging step (and the last one): the trackers, ``metrics.jsonl`` and the progress bar."""
    if not (progress.step % args.logging_steps == 0 or progress.step == plan.total_steps):
        return
    tally.first_loss = step_loss if tally.first_loss is None else tally.first_loss
    tally.last_loss = step_loss
    elapsed = time.perf_counter() - tally.window_start
    clips_per_step = args.per_device_train_batch_size * args.num_sample * plan.world * plan.accumulation
    record = {
        "step": progress.step,
        "epoch": progress.epoch,
        "loss": step_loss,
        "lr": lr,
        "grad_norm": float(grad_norm),
        "clips_per_s": clips_per_step * tally.window_steps / elapsed,
        "skipped_videos": tally.skipped.counted_here,  # this process, in this call
    }
    accelerator.log({k: v for k, v in record.items() if k != "step"}, step=progress.step)
    metrics.write(record)
    bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{lr:.2e}")
    tally.window_start, tally.window_steps = time.perf_counter(), 0


def _finish(
    args: PretrainArguments,
    accelerator: Accelerator,
    model: torch.nn.Module,
    output_dir: Path,
    data: _Data,
    plan: _Plan,
    progress: TrainingProgress,
    tally: _Tally,
    run_record: dict,
    outcome: dict,
) -> dict:
    """The final model (gathered from every rank) and ``summary.json``; returns the summary.

    ``outcome``: the preview losses at the start and the end, and the run's clock (the ``time.perf_counter()`` the
    loop started at, moved back by the seconds of training of the checkpoint it resumed from): ``seconds`` is
    the training time of the whole run, over every call that made it.
    """
    state_dict = accelerator.get_state_dict(model)  # collective: gathers FSDP shards onto the main process
    digest = None if plan.sharded else parameter_digest(accelerator.unwrap_model(model))
    # gather_object: gather_for_metrics would cut the list to a streamed epoch's last-batch remainder
    digests = gather_object([digest])
    summary = {
        **run_record,
        "steps": progress.step,
        "epochs_completed": progress.epoch,
        "first_logged_loss": tally.first_loss,
        "last_logged_loss": tally.last_loss,
        "preview_loss_start": outcome["preview_loss_start"],
        "preview_loss_end": outcome["preview_loss_end"],
        "seconds": round(time.perf_counter() - outcome["started"], 2),
        "skipped_videos_on_main_process": tally.skipped.counted_here,
        "skipped_training_videos": tally.skipped.gathered(),  # collective: every rank's, since the run started
        "rank_parameter_digests": digests,
        "streamed_video_ids": (gather_object([tally.streamed_ids]) if args.streaming else None),
        "final_model": str(output_dir / FINAL_MODEL_DIR),
    }
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(output_dir / FINAL_MODEL_DIR, state_dict=state_dict)
        write_json_atomic(output_dir / RUN_SUMMARY_FILE, summary)
        accelerator.print(
            f"pre-training done: {progress.step} steps, loss {tally.first_loss} -> {tally.last_loss}, "
            f"{summary['seconds']} s, {plan.world} process(es); model in {output_dir / FINAL_MODEL_DIR}, "
            f"summary in {output_dir / RUN_SUMMARY_FILE}"
        )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary


def _save_good_checkpoint(
    accelerator: Accelerator,
    model,
    output_dir: Path,
    progress: TrainingProgress,
    tally: _Tally,
    plan: _Plan,
    keep: int,
    started: float,
) -> None:
    """Save a checkpoint of ``progress.step`` (with the seconds of training since the run's clock ``started``, the
    videos of the epoch taken so far and every rank's skipped videos so far) when the weights are finite and sane;
    stop the run otherwise."""
    progress.seconds = round(time.perf_counter() - started, 2)
    progress.videos_in_epoch = progress.batches_in_epoch * plan.round_videos
    largest = accelerator.gather(largest_weight(model).to(accelerator.device)[None]).max().item()
    problem = weights_problem(largest)
    if problem is not None:
        raise TrainingDiverged(
            f"after step {progress.step} {problem}; not saved. {_last_good(output_dir)} "
            "Lower the learning rate or set --max_grad_norm"
        )
    progress.skipped_videos = tally.skipped.gathered()  # collective
    progress.stream_places = gather_object([tally.stream_place]) if tally.streaming else None  # collective
    save_checkpoint(accelerator, output_dir, progress, keep)


def _last_good(output_dir: Path) -> str:
    saved = completed_checkpoints(output_dir)
    if not saved:
        return "No checkpoint was saved before."
    return f"The last good checkpoint is {saved[-1]} (--resume latest continues from it)."


def _stop_diverged(accelerator: Accelerator, output_dir: Path, step: int, loss: float) -> None:
    """Raise ``TrainingDiverged`` for a non-finite loss or gradient in step ``step + 1``. The weights after ``step``
    gave it, so their checkpoint (if ``step`` was saved) is set aside as ``step-N.diverged``."""
    accelerator.wait_for_everyone()
    diverged = checkpoint_root(output_dir) / f"step-{step}"
    if accelerator.is_main_process and diverged.is_dir():
        diverged.rename(diverged.with_name(f"{diverged.name}.diverged"))
    accelerator.wait_for_everyone()
    raise TrainingDiverged(
        f"non-finite loss or gradient at step {step + 1} (mean loss {loss:.4g}). {_last_good(output_dir)} "
        "Lower the learning rate, set --max_grad_norm, or check the data, then --resume latest"
    )


def streaming_dataset(
    args: PretrainArguments, accelerator: Accelerator, clip_options: dict
) -> StreamingPretrainDataset:
    """This process's items of a published index read as a stream (``--streaming``)."""
    rows, num_rows, column, base = streaming_rows(
        args.data,
        accelerator.process_index,
        accelerator.num_processes,
        args.video_column,
        args.only_passed,
        args.hashtags,
        args.hub_token_env,
        args.seed,
    )
    return StreamingPretrainDataset(
        rows,
        num_rows=num_rows,
        rank=accelerator.process_index,
        num_processes=accelerator.num_processes,
        video_column=column,
        base=base,
        **clip_options,
    )


def _preview_batch(
    dataset: PretrainVideoDataset | StreamingPretrainDataset, collator: PretrainCollator, size: int = 8
) -> dict:
    """A fixed batch for watching the run: the first crop of up to ``size`` videos (epoch-0 keys, so the
    crops and the masks are the same every time). Its loss is logged at the start, at every reconstruction
    step and at the end."""
    items = [dataset[(0, i)] for i in range(min(size, len(dataset)))]
    batch = collator([{**item, "pixel_values": item["pixel_values"][:1]} for item in items])
    if batch["pixel_values"].dtype == torch.uint8:  # a collator for normalisation on the device
        batch["pixel_values"] = normalize_video(batch["pixel_values"])
    return {k: batch[k] for k in ("pixel_values", "bool_masked_pos", "decoder_masked_pos")}


@torch.no_grad()
def _preview_loss(accelerator: Accelerator, model, preview: dict) -> float:
    unwrapped = accelerator.unwrap_model(model)
    device = next(unwrapped.parameters()).device
    was_training = unwrapped.training
    unwrapped.eval()
    with accelerator.autocast():
        loss = unwrapped(**{k: v.to(device) for k, v in preview.items()}).loss.item()
    unwrapped.train(was_training)
    return loss


def _log_reconstruction(accelerator: Accelerator, model, preview: dict, output_dir: Path, step: int) -> None:
    from PIL import Image

    unwrapped = accelerator.unwrap_model(model)
    device = next(unwrapped.parameters()).device
    with accelerator.autocast():
        image = reconstruction_grid(
            unwrapped, *(preview[k][:1].to(device) for k in ("pixel_values", "bool_masked_pos", "decoder_masked_pos"))
        )
    accelerator.log({"preview_loss": _preview_loss(accelerator, model, preview)}, step=step)
    if not accelerator.is_main_process:  # a rank that only joined the (FSDP) forwards
        return
    folder = output_dir / RECONSTRUCTIONS_DIR
    folder.mkdir(exist_ok=True)
    Image.fromarray(image).save(folder / f"step-{step}.png")
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.writer.add_image("reconstruction", image, step, dataformats="HWC")
