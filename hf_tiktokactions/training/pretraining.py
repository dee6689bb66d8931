"""The VideoMAE V2 pre-training loop under Accelerate, readable top to bottom.

Determinism: the sampler shuffles with (seed, epoch); each item's crops and each batch's masks are drawn
from generators seeded by (seed, epoch, video index). So a run gives the same batches whatever the number
of DataLoader workers, and a resumed run (model, optimizer, RNG and progress restored from an Accelerate
checkpoint, the consumed batches of the epoch skipped) continues exactly where the first one stopped.

Outputs in ``output_dir``: ``run_config.json`` (options, versions, processes), ``metrics.jsonl`` (one line
per logging step), ``checkpoints/step-N`` (Accelerate states), ``reconstructions/step-N.png``, TensorBoard
logs in ``logs/``, the final model in ``final/`` (``VideoMAEv2ForPreTraining.from_pretrained``) and
``summary.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.data_loader import DataLoaderShard
from accelerate.utils import ProjectConfiguration, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..atomic_files import write_json_atomic, write_text_atomic
from ..data.collate import PretrainCollator
from ..data.pretrain_dataset import EpochKeySampler, PretrainVideoDataset
from ..data.streaming_dataset import StreamingPretrainDataset
from ..data.transforms import normalize_video
from ..errors import ConfigError, TikTokActionsError
from ..modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining
from .arguments import PretrainArguments, to_json_dict
from .checkpointing import TrainingProgress, resolve_resume, save_checkpoint
from .optim import weight_decay_groups
from .pretrain_data import resolve_videos, streaming_rows
from .reconstructions import reconstruction_grid
from .schedules import cosine_with_warmup


class TrainingDiverged(TikTokActionsError):
    """The loss or the gradient became NaN or infinite."""


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
        if not (Path(args.init_from) / "config.json").exists():
            raise ConfigError(
                f"--init_from {args.init_from}: no config.json there; pass an earlier run's final/ folder"
            )
        model = VideoMAEv2ForPreTraining.from_pretrained(args.init_from, **overrides)
    else:
        model = VideoMAEv2ForPreTraining(VideoMAEv2Config.from_preset(args.model_preset, **overrides))
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()
    return model


def make_accelerator(args: PretrainArguments) -> Accelerator:
    on_gpu = torch.cuda.is_available()
    precision = args.mixed_precision if args.mixed_precision != "auto" else ("bf16" if on_gpu else "no")
    trackers = [t for t in args.report_to.split(",") if t and t != "none"]
    project = ProjectConfiguration(project_dir=args.output_dir, logging_dir=str(Path(args.output_dir) / "logs"))
    return Accelerator(
        cpu=not on_gpu,
        mixed_precision=precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
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
                f.write(json.dumps(record) + "\n")


def pretrain(args: PretrainArguments) -> dict:
    """Run pre-training as configured; returns the summary (also written to ``summary.json``)."""
    accelerator = make_accelerator(args)
    set_seed(args.seed)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    # Data: one dense clip per video, num_sample crops of it, masks added by the collator.
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
        num_videos = dataset.num_rows  # of the whole index; each process streams its share
    else:
        videos = resolve_videos(
            args.data,
            args.video_column,
            args.only_passed,
            args.hashtags,
            args.max_videos,
            args.subset_seed,
            args.hub_token_env,
        )
        dataset = PretrainVideoDataset(videos, **clip_options)
        num_videos = len(dataset)
    model = build_model(args)
    config = model.config
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
    world = accelerator.num_processes
    total_videos = args.per_device_train_batch_size * world * args.gradient_accumulation_steps
    steps_per_epoch = num_videos // total_videos
    if steps_per_epoch == 0:
        raise ConfigError(
            f"{num_videos} videos cannot fill one step of {total_videos} videos "
            f"({args.per_device_train_batch_size} per device x {world} processes x {args.gradient_accumulation_steps} accumulation)"
        )
    total_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * steps_per_epoch)
    warmup_steps = args.warmup_steps if args.warmup_steps >= 0 else round(args.warmup_epochs * steps_per_epoch)
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
    if args.streaming:
        model, optimizer = accelerator.prepare(model, optimizer)
    else:
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    progress = TrainingProgress()
    accelerator.register_for_checkpointing(progress)

    resume_from = resolve_resume(args.resume, output_dir)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        accelerator.print(f"resumed from {resume_from} at step {progress.step}")
    metrics = MetricsFile(output_dir / "metrics.jsonl", progress.step, accelerator.is_main_process)
    run_record = {
        "args": to_json_dict(args),
        "versions": versions(),
        "num_processes": world,
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "learning_rate": lr_peak,
        "videos": num_videos,
        "resumed_from": str(resume_from) if resume_from else None,
    }
    if accelerator.is_main_process:
        write_json_atomic(output_dir / "run_config.json", run_record)
    accelerator.init_trackers(
        "pretrain", config={k: v for k, v in to_json_dict(args).items() if isinstance(v, (int, float, str, bool))}
    )

    preview = _preview_batch(dataset, collator) if accelerator.is_main_process else None
    preview_loss_start = _preview_loss(accelerator, model, preview) if preview is not None else None
    bar = tqdm(
        total=total_steps,
        initial=progress.step,
        desc="pre-training",
        unit="step",
        disable=args.disable_tqdm or not accelerator.is_local_main_process,
    )
    first_loss = last_loss = None
    clips_per_step = args.per_device_train_batch_size * args.num_sample * world * args.gradient_accumulation_steps
    window_start, window_steps, skipped_videos = time.perf_counter(), 0, 0
    started = time.perf_counter()

    while progress.step < total_steps:
        epoch_loader = (
            accelerator.skip_first_batches(loader, progress.batches_in_epoch) if progress.batches_in_epoch else loader
        )
        # The prepared loader passes its own epoch counter to the sampler on every __iter__: set it, not the sampler.
        epoch_loader.set_epoch(progress.epoch)
        for batch in epoch_loader:
            lr = cosine_with_warmup(progress.step, total_steps, lr_peak, lr_end, warmup_steps, lr_start)
            for group in optimizer.param_groups:
                group["lr"] = lr
            skipped_videos += batch.pop("num_skipped", 0)
            if normalize_on_device:
                batch["pixel_values"] = normalize_video(batch["pixel_values"])
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                grad_norm = None
                if accelerator.sync_gradients:
                    grad_norm = accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm or float("inf"))
                    if not torch.isfinite(grad_norm) and accelerator.mixed_precision != "fp16":
                        save_checkpoint(accelerator, output_dir, progress.step, args.save_total_limit)
                        raise TrainingDiverged(
                            f"non-finite loss or gradient at step {progress.step + 1} (loss {loss.item():.4g}); the last good "
                            f"step {progress.step} is saved in {output_dir / 'checkpoints'}: lower the learning rate, "
                            "set --max_grad_norm, or check the data, then --resume latest"
                        )
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            progress.batches_in_epoch += 1
            if not accelerator.sync_gradients:
                continue
            progress.step += 1
            window_steps += 1
            bar.update(1)

            if progress.step % args.logging_steps == 0 or progress.step == total_steps:
                mean_loss = accelerator.reduce(loss.detach().float(), "mean").item()
                first_loss = mean_loss if first_loss is None else first_loss
                last_loss = mean_loss
                elapsed = time.perf_counter() - window_start
                record = {
                    "step": progress.step,
                    "epoch": progress.epoch,
                    "loss": mean_loss,
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    "clips_per_s": clips_per_step * window_steps / elapsed,
                    "skipped_videos": skipped_videos,
                }
                accelerator.log({k: v for k, v in record.items() if k != "step"}, step=progress.step)
                metrics.write(record)
                bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{lr:.2e}")
                window_start, window_steps = time.perf_counter(), 0
            if preview is not None and args.reconstruction_steps and progress.step % args.reconstruction_steps == 0:
                _log_reconstruction(accelerator, model, preview, output_dir, progress.step)
            if progress.step % args.save_steps == 0:
                save_checkpoint(accelerator, output_dir, progress.step, args.save_total_limit)
            if progress.step >= total_steps:
                break
        else:
            progress.epoch += 1
            progress.batches_in_epoch = 0
    bar.close()

    save_checkpoint(accelerator, output_dir, progress.step, args.save_total_limit)
    preview_loss_end = _preview_loss(accelerator, model, preview) if preview is not None else None
    state_dict = accelerator.get_state_dict(model)  # collective: gathers FSDP shards onto the main process
    sharded = accelerator.distributed_type.value == "FSDP"
    digest = None if sharded else parameter_digest(accelerator.unwrap_model(model))
    digests = accelerator.gather_for_metrics([digest], use_gather_object=True)
    summary = {
        **run_record,
        "steps": progress.step,
        "epochs_completed": progress.epoch,
        "first_logged_loss": first_loss,
        "last_logged_loss": last_loss,
        "preview_loss_start": preview_loss_start,
        "preview_loss_end": preview_loss_end,
        "seconds": round(time.perf_counter() - started, 2),
        "skipped_videos_on_main_process": skipped_videos,
        "rank_parameter_digests": digests,
        "streamed_video_ids": (
            accelerator.gather_for_metrics([dataset.read_ids], use_gather_object=True) if args.streaming else None
        ),
        "final_model": str(output_dir / "final"),
    }
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(output_dir / "final", state_dict=state_dict)
        write_json_atomic(output_dir / "summary.json", summary)
        accelerator.print(
            f"pre-training done: {progress.step} steps, loss {first_loss} -> {last_loss}, {summary['seconds']} s, "
            f"{world} process(es); model in {output_dir / 'final'}, summary in {output_dir / 'summary.json'}"
        )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary


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
    folder = output_dir / "reconstructions"
    folder.mkdir(exist_ok=True)
    Image.fromarray(image).save(folder / f"step-{step}.png")
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.writer.add_image("reconstruction", image, step, dataformats="HWC")
