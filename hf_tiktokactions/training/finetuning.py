"""Fine-tuning with a ``transformers.Trainer`` subclass, as the official VideoMAE V2 ``run_class_finetuning.py``.

``VideoClassificationTrainer`` adds to ``Trainer``: AdamW over layer-wise lr-decay groups (no weight decay on
norms and biases), the official per-step schedule (linear warm-up, cosine to a floor), timm mixup/cutmix with
label smoothing on the batch (or label smoothing alone), and soft-target cross-entropy. Drop path, RandAugment,
random erasing and repeated augmentation live in the model config and the dataset.

``finetune(args, training_args)`` is the whole run: data, model, training with single-view validation, the final
multi-view test, and the results files. Outputs in ``output_dir``: Trainer checkpoints, ``final/`` (the model),
``run_config.json``, ``results.json`` / ``results.md`` / ``predictions.jsonl`` / ``confusion_matrix.png``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import EvalPrediction, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import set_seed

from ..atomic_files import write_text_atomic
from ..data.epoch_keys import EpochKeySampler
from ..data.finetune_dataset import FinetuneVideoDataset, MultiViewVideoDataset, collate_clips
from ..data.transforms import FinetuneTrainTransform, VideoMixup, normalize_video
from ..errors import CheckpointError, ConfigError
from ..layout import FINAL_MODEL_DIR, RUN_RECORD_FILE
from ..machine import cpu_model
from ..output_guard import EVAL_ONLY_JOB, output_folder, refuse_another_jobs_folder
from .arguments import TRAINER_DEFAULT_LEARNING_RATE, FinetuneArguments, to_json_dict
from .distributed import (
    applied_strategy,
    check_wrap_classes,
    fsdp_requested,
    prepare_cpu_fsdp,
    require_requested_strategy,
)
from .divergence import TrainingDiverged, is_sharded, largest_weight_of_model, max_over_ranks, weights_problem
from .evaluation import MultiViewPredictions, classification_metrics, multiview_metrics, predict_multiview
from .finetune_inputs import FinetuneData, LabelledVideos, resolve_data, without_unreadable
from .model_init import build_classifier, checkpoint_class_names
from .optim import layer_decay_groups
from .pretraining import versions
from .results import write_test_results
from .results_file import RESULTS_FILE
from .resumed_runs import checkpoint_fits, earlier_segments
from .schedules import cosine_with_warmup, warn_if_warmup_outlasts
from .skipped_videos import KeepInTrainerCheckpoints, SkippedVideos, read_from_checkpoint
from .trainer_checkpoints import BatchInCheckpoints, other_batch_problem, resolve_trainer_resume

logger = logging.getLogger(__name__)


def smooth_targets(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """(B,) class ids -> (B, K) targets: 1 - smoothing + smoothing / K on the label, smoothing / K elsewhere."""
    off = smoothing / num_classes
    return torch.full((labels.shape[0], num_classes), off, device=labels.device).scatter_(
        1, labels[:, None], 1.0 - smoothing + off
    )


def _local(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor  # this rank's shard of a DTensor (FSDP2)


class StopOnDivergence(TrainerCallback):
    """Stops training at a NaN or infinite gradient (a non-finite loss gives one), before the optimizer step, and
    at weights that are no longer finite or have run away, right after it (before they are evaluated or saved).

    Gradients are all-reduced before this point and the weights are equal on every rank, so all ranks stop
    together."""

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        grads = [_local(p.grad).detach().float().norm() for p in model.parameters() if p.grad is not None]
        finite = torch.isfinite(torch.stack(grads)).all() if grads else torch.tensor(True)
        if is_sharded(model):  # each rank holds a shard of the gradients: all ranks take the same verdict
            finite = max_over_ranks((~finite).float()) == 0
        if not finite:
            raise TrainingDiverged(
                f"non-finite loss or gradient at step {state.global_step + 1}; the weights were not updated nor "
                f"saved. Lower the learning rate (now {args.learning_rate:g}), set --max_grad_norm, or check the data"
            )

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        problem = weights_problem(largest_weight_of_model(model).item())
        if problem is not None:
            raise TrainingDiverged(
                f"after step {state.global_step + 1} {problem}; they were not saved. Lower the learning rate "
                f"(now {args.learning_rate:g}) or set --max_grad_norm"
            )


class TellSamplerTheEpoch(TrainerCallback):
    """Sets the ``EpochKeySampler``'s epoch as each epoch begins. Trainer's own ``set_epoch`` calls go through the
    prepared loader, which does not reach a sampler under both a rank's shard and a resumed epoch's skip."""

    def __init__(self) -> None:
        self.sampler: EpochKeySampler | None = None

    def on_epoch_begin(self, args, state, control, **kwargs):
        if self.sampler is not None:
            # state.epoch is whole at an epoch's start, and epoch + steps done / steps per epoch in a resumed one
            self.sampler.set_epoch(math.floor(state.epoch + 1e-6))


class VideoClassificationTrainer(Trainer):
    """``Trainer`` with the VideoMAE V2 fine-tuning recipe.

    Args (besides Trainer's):
        layer_decay: lr of depth d (embeddings 0, block i -> i + 1, head L + 1) is scaled by decay^(L + 1 - d).
        min_lr_ratio, warmup_start_ratio: end of the cosine and start of the warm-up, as fractions of the peak lr.
        mixup: a ``VideoMixup`` (which also smooths the labels), or None for label smoothing alone
            (``args.label_smoothing_factor``).
    """

    def __init__(
        self,
        *args,
        layer_decay: float = 0.75,
        min_lr_ratio: float = 0.0,
        warmup_start_ratio: float = 0.0,
        mixup: VideoMixup | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.add_callback(StopOnDivergence())
        self._epochs_to_sampler = TellSamplerTheEpoch()
        self.add_callback(self._epochs_to_sampler)
        self.layer_decay, self.min_lr_ratio, self.warmup_start_ratio, self.mixup = (
            layer_decay,
            min_lr_ratio,
            warmup_start_ratio,
            mixup,
        )
        self.label_smoother = None  # smoothing is applied to the targets in compute_loss
        self.skipped_videos = SkippedVideos()  # undecodable training videos this process passed over
        self.add_callback(KeepInTrainerCheckpoints(self.skipped_videos))
        self._batch_in_checkpoints = batch_of_a_step(self.args)
        self.add_callback(self._batch_in_checkpoints)
        # --auto_find_batch_size splits the videos a step takes on a device (the command line's) in other micro-batches
        self._command_line_per_device = self.args.per_device_train_batch_size
        self._videos_a_step_on_a_device = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
        self._tried_per_device: int | None = None

    def train(self, *args, **kwargs):
        self._tried_per_device = None  # no per-device batch has run out of memory in this call yet
        return super().train(*args, **kwargs)

    def _update_auto_batch_size(self, batch_size: int) -> None:
        """--auto_find_batch_size: Trainer calls this before each try with the per-process batch to try (the command
        line's or the resumed checkpoint's, then 0.9 times the last, rounded down, after each out-of-memory error).
        The total batch stays the command line's, and so do the lr scaled by it, the steps of an epoch and the
        warm-up: the per-device batch becomes the largest divisor of the videos of a step on a device that is at most
        ``batch_size`` (and smaller than the last one tried), and the gradient accumulation makes up the rest
        (8 x 1 -> 4 x 2 -> 2 x 4). With mixup/cutmix on an even batch, the largest such divisor that keeps the
        clips mixup takes (per-device batch x num_sample) even (6 x 1 -> 2 x 3, not 3 x 2, where mixup would stop).
        ``self.args`` and the checkpoints keep this split; Trainer reads both numbers from ``self.args`` as each try
        starts."""
        share, gpus = self._videos_a_step_on_a_device, max(1, self.args.n_gpu)
        ceiling = batch_size // gpus
        if self._tried_per_device is not None:  # it ran out of memory: accelerate's 0.9 x may map back onto it
            ceiling = min(ceiling, self._tried_per_device - 1)
        sizes = [size for size in range(1, ceiling + 1) if share % size == 0]
        mixing = self.mixup is not None and self._mixes(self._command_line_per_device)
        even = [size for size in sizes if self._mixes(size)] if mixing else []
        per_device = max(even or sizes, default=0)
        if per_device == 0:
            raise ConfigError(
                "--auto_find_batch_size: even 1 video a device ran out of memory; lower --num_sample, --num_frames "
                "or --input_size, or set --gradient_checkpointing_blocks"
            )
        self._tried_per_device = per_device
        self.args.per_device_train_batch_size, self.args.gradient_accumulation_steps = per_device, share // per_device
        self._batch_in_checkpoints.per_device, self._batch_in_checkpoints.accumulation = per_device, share // per_device
        super()._update_auto_batch_size(per_device * gpus)
        if per_device != self._command_line_per_device:
            logger.warning(
                "--auto_find_batch_size: steps of %s, the command line's total batch: its lr (%g), steps an epoch "
                "and warm-up are kept",
                self._batch_in_checkpoints.describe(),
                self.args.learning_rate,
            )
        if mixing and not self._mixes(per_device):
            logger.warning(
                "--auto_find_batch_size: no even batch fits for mixup/cutmix: steps of %s, batches of %d clips, "
                "are trained with label smoothing alone",
                self._batch_in_checkpoints.describe(),
                per_device * self._clips_per_video(),
            )

    def _clips_per_video(self) -> int:
        """The clips a training video gives a batch (--num_sample of a ``FinetuneVideoDataset``, else 1)."""
        return getattr(self.train_dataset, "num_sample", 1)

    def _mixes(self, per_device: int) -> bool:
        """Whether mixup/cutmix can take the batches of this per-device batch (timm's Mixup takes even ones only)."""
        return per_device * self._clips_per_video() % 2 == 0

    def _get_train_sampler(self, train_dataset=None):
        """(epoch, index) keys for a ``FinetuneVideoDataset``, shuffled by (seed, epoch): its items then draw their
        clips and augmentations from the key alone (same batches with any number of workers, and after a resume).

        With ``dataloader_drop_last`` an epoch takes ``videos // total batch`` whole optimizer steps, as upstream's
        loop (``num_training_steps_per_epoch``): Trainer alone would still make a smaller last step of the
        micro-batches left over by gradient accumulation, and Accelerate would fill a last round of processes with
        repeated videos."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if not isinstance(dataset, FinetuneVideoDataset):
            return super()._get_train_sampler(train_dataset)
        per_epoch = None
        if self.args.dataloader_drop_last:
            total_batch = total_train_batch(self.args)
            per_epoch = len(dataset) // total_batch * total_batch
        self._epochs_to_sampler.sampler = EpochKeySampler(len(dataset), dataset.seed, per_epoch=per_epoch)
        return self._epochs_to_sampler.sampler

    def get_eval_dataloader(self, eval_dataset=None):
        """Validation scores every video, as upstream's validation loader (``drop_last=False``): Trainer would
        apply ``dataloader_drop_last``, which is for training only, to it too."""
        with self._keeping_the_last_batch():
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset):
        """``predict`` answers for every video, as validation does (``get_eval_dataloader``)."""
        with self._keeping_the_last_batch():
            return super().get_test_dataloader(test_dataset)

    @contextlib.contextmanager
    def _keeping_the_last_batch(self):
        """``args.dataloader_drop_last`` off while Trainer builds a loader (it reads it from there), back after."""
        drop_last = self.args.dataloader_drop_last
        self.args.dataloader_drop_last = False
        try:
            yield
        finally:
            self.args.dataloader_drop_last = drop_last

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ):
        """``{metric_key_prefix}_loss`` is the mean cross-entropy over the videos, as the model's loss, from the
        gathered (N, K) logits: one row a video, the duplicates that pad the processes' last round left out, as for
        top-1. Trainer's own averages batch means, and with several processes the last ones mix those duplicates in
        (7 videos on 2 processes counted the first one twice)."""
        output = super().evaluation_loop(dataloader, description, False, ignore_keys, metric_key_prefix)
        if output.label_ids is not None:
            logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
            loss = F.cross_entropy(torch.as_tensor(logits).float(), torch.as_tensor(output.label_ids).long())
            output.metrics[f"{metric_key_prefix}_loss"] = loss.item()
        return output

    def get_train_dataloader(self):
        """The loader draws its workers' base seeds from a generator of its own: a resumed run starts loader
        iterators where the uninterrupted one did not (the skipped epoch's; with persistent workers, the next
        epoch's), and drawing them from torch's global generator would shift every later dropout and drop-path draw.
        Keyed items do not use those seeds."""
        loader = super().get_train_dataloader()
        if isinstance(self.train_dataset, FinetuneVideoDataset):
            # Accelerate's prepared loader wraps the DataLoader that starts the iterators
            getattr(loader, "base_dataloader", loader).generator = torch.Generator().manual_seed(self.args.seed)
        return loader

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Refuses weights that are not finite or have run away (checkpoints and the final model alike)."""
        problem = weights_problem(largest_weight_of_model(self.model).item())
        if problem is not None:
            raise TrainingDiverged(
                f"at step {self.state.global_step} {problem}; {output_dir or self.args.output_dir} was not saved. "
                "Lower the learning rate or set --max_grad_norm"
            )
        if (
            self.is_fsdp_enabled
            and not _internal_call
            and "FULL" not in str(self.accelerator.state.fsdp_plugin.state_dict_type)
        ):
            # Trainer writes no model for a sharded state-dict type: the final model is gathered into one folder.
            self._save(output_dir, state_dict=self.accelerator.get_state_dict(self.model))
            return
        super().save_model(output_dir, _internal_call)

    def create_optimizer(self, model=None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            opt_model = self.model if model is None else model
            groups = layer_decay_groups(
                opt_model, self.args.weight_decay, self.layer_decay, opt_model.config.num_hidden_layers
            )
            for group in groups:
                group["lr"] = self.args.learning_rate * group["lr_scale"]
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            optimizer_kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        """Per step: linear warm-up from ``warmup_start_ratio`` x lr, then cosine to ``min_lr_ratio`` x lr, each group
        scaled by its layer factor (``LambdaLR`` multiplies every group's own initial lr)."""
        if self.lr_scheduler is None:
            warmup = self.args.get_warmup_steps(num_training_steps)
            warn_if_warmup_outlasts(warmup, num_training_steps)
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer or self.optimizer,
                lambda step: cosine_with_warmup(
                    step, num_training_steps, 1.0, self.min_lr_ratio, warmup, self.warmup_start_ratio
                ),
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def _get_learning_rate(self) -> float:
        """The lr Trainer logs: the peak over the layer-decay groups (the head's), as the official code logs
        ``max_lr``; the first group is the patch embedding's, ``layer_decay ** (depth + 1)`` times smaller."""
        return max(group["lr"] for group in self.optimizer.param_groups)

    def compute_loss(self, model, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch=None):
        """Training: mixup/cutmix (or smoothing) turn (B,) labels into (B, K) soft targets; evaluation: hard labels.
        uint8 clips (B, T, C, H, W) are normalised here, on the device: a quarter of the bytes to pin and copy."""
        inputs = dict(inputs)
        inputs.pop("index", None)
        skipped = inputs.pop("skipped_videos", ())
        if model.training:
            self.skipped_videos.add(skipped)
        labels = inputs.pop("labels")
        pixel_values = inputs.pop("pixel_values")
        if pixel_values.dtype == torch.uint8:
            pixel_values = normalize_video(pixel_values)
        if model.training:
            num_classes = self.accelerator.unwrap_model(model).config.num_labels
            if self.mixup is not None and pixel_values.shape[0] % 2 == 0:  # odd: warned about at the start
                pixel_values, labels = self.mixup(pixel_values, labels)
            elif self.args.label_smoothing_factor > 0:
                labels = smooth_targets(labels, num_classes, self.args.label_smoothing_factor)
        outputs = model(pixel_values=pixel_values, labels=labels)
        return (outputs.loss, outputs) if return_outputs else outputs.loss


def single_view_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Trainer's ``compute_metrics``: top-1 / top-5 of single-view logits (package metric modules, offline)."""
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    logits_t = torch.as_tensor(logits).float()
    scores = F.softmax(logits_t, dim=-1).numpy()
    metrics = classification_metrics(scores, prediction.label_ids, scores.shape[1])
    return {"top1": metrics["top1"], "top5": metrics["top5"]}


def resolve_device_and_precision(args: FinetuneArguments, training_args: TrainingArguments) -> TrainingArguments:
    """``--mixed_precision auto``: bf16 on a GPU, full precision on CPU (TrainingArguments refuses bf16 there).

    Without a GPU, ``use_cpu`` is set: only then does Trainer start gloo ranks under torchrun / accelerate launch
    (otherwise every process trains alone on the whole data).
    """
    if not torch.cuda.is_available() and not training_args.use_cpu:
        training_args = dataclasses.replace(training_args, use_cpu=True)
    want_bf16 = args.mixed_precision == "bf16" or (args.mixed_precision == "auto" and torch.cuda.is_available())
    if want_bf16 and not torch.cuda.is_available():
        raise ConfigError("--mixed_precision bf16 needs a GPU; use auto or no on this machine")
    if want_bf16 != training_args.bf16:
        training_args = dataclasses.replace(training_args, bf16=want_bf16)
    return training_args


def keep_workers_for_the_cache(args: FinetuneArguments, training_args: TrainingArguments) -> TrainingArguments:
    """With ``--decoded_cache_mb`` the decoded frames live in the loader workers: the workers must last the run."""
    workers = training_args.dataloader_num_workers
    if args.decoded_cache_mb and workers and not training_args.dataloader_persistent_workers:
        training_args = dataclasses.replace(training_args, dataloader_persistent_workers=True)
    return training_args


def hub_token_kept_out_of_saved_files(training_args: TrainingArguments) -> TrainingArguments:
    """``--hub_token`` handed to huggingface_hub through ``HF_TOKEN`` (which redaction knows) instead of in the
    options: Trainer pickles its options into every ``training_args.bin`` it writes (``final/``, checkpoints) and its
    ``push_to_hub`` uploads that file; with no token in the options it asks huggingface_hub, which reads HF_TOKEN."""
    if not training_args.hub_token:
        return training_args
    os.environ["HF_TOKEN"] = training_args.hub_token
    return dataclasses.replace(training_args, hub_token=None)


def hardware_description(training_args: TrainingArguments) -> str:
    world = training_args.world_size
    if torch.cuda.is_available():
        device = f"{world}x {torch.cuda.get_device_name(0)}"
    else:
        device = f"{world}x CPU ({cpu_model()}, {torch.get_num_threads()} threads)"
    return f"{device}, {'bf16' if training_args.bf16 else 'fp32'}"


def _write_run_config(output_dir: Path, record: dict[str, Any]) -> None:
    """``run_config.json``, replaced atomically so a kill while it is rewritten leaves the previous one."""
    write_text_atomic(output_dir / RUN_RECORD_FILE, json.dumps(record, indent=2) + "\n")


def _train_dataset(args: FinetuneArguments, split: LabelledVideos, seed: int) -> FinetuneVideoDataset:
    transform = FinetuneTrainTransform(
        args.input_size,
        flip=args.flip,
        rand_augment=None if args.rand_augment == "none" else args.rand_augment,
        erase_prob=args.reprob,
        scale=(args.crop_scale_min, 1.0),
    )
    return FinetuneVideoDataset(
        split.sources(),
        split.labels,
        transform,
        num_frames=args.num_frames,
        sampling_rate=args.sampling_rate,
        sampling=args.sampling,
        num_sample=args.num_sample,
        backend=args.decode_backend,
        decoded_cache_bytes=args.decoded_cache_mb * 2**20,
        names=split.error_names(),
        seed=seed,
    )


def _test_dataset(
    args: FinetuneArguments, split: LabelledVideos, segments: int = 1, crops: int = 1, validation: bool = False
) -> MultiViewVideoDataset:
    """uint8 clips, normalised on the device (by ``predict_multiview`` or the Trainer's ``compute_loss``):
    ``segments x crops`` test views, or (``validation``) the one validation clip of each video that is scored
    between epochs, whose decoded frames are kept since the split is read again and again."""
    return MultiViewVideoDataset(
        split.sources(),
        split.labels,
        num_frames=args.num_frames,
        sampling_rate=args.sampling_rate,
        sampling=args.sampling,
        num_segments=segments,
        num_crops=crops,
        input_size=args.input_size,
        short_side_size=args.short_side_size,
        backend=args.decode_backend,
        normalize=False,
        decoded_cache_bytes=args.decoded_cache_mb * 2**20 if validation else 0,
        names=split.error_names(),
        validation_clip=validation,
    )


def total_train_batch(training_args: TrainingArguments) -> int:
    """Videos per optimizer step: per device x processes x accumulation (upstream batch_size x GPUs x update_freq)."""
    return batch_of_a_step(training_args).total


def batch_of_a_step(training_args: TrainingArguments) -> BatchInCheckpoints:
    """The videos of an optimizer step, as kept in checkpoints (their product is ``total_train_batch``)."""
    return BatchInCheckpoints(
        training_args.per_device_train_batch_size, training_args.world_size, training_args.gradient_accumulation_steps
    )


def schedule_learning_rates(
    args: FinetuneArguments, total_batch: int, learning_rate: float
) -> tuple[float, float, float]:
    """(peak lr, end of the cosine, start of the warm-up).

    With ``base_learning_rate`` all three scale with the total batch as upstream scales ``lr``, ``min_lr`` and
    ``warmup_lr``: ``value x total_batch / 256``. Without it, ``learning_rate`` and the two values are absolute.
    """
    if args.base_learning_rate is None:
        return learning_rate, args.min_learning_rate, args.warmup_learning_rate
    scale = total_batch / 256
    return (
        args.base_learning_rate * scale,
        args.min_learning_rate * scale,
        args.warmup_learning_rate * scale,
    )


def check_schedule_options(args: FinetuneArguments, training_args: TrainingArguments) -> None:
    """Refuse Trainer options that the schedule would override without a word: the schedule is always the
    official per-step cosine with linear warm-up, ``--warmup_epochs`` (when set) decides the warm-up, and
    ``--base_learning_rate`` (when set) the lr."""
    scheduler = str(getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type))
    if scheduler != "linear":
        raise ConfigError(
            f"--lr_scheduler_type {scheduler} is not used: fine-tuning follows the official "
            "cosine schedule with linear warm-up (--min_learning_rate, --warmup_learning_rate set its ends)"
        )
    if args.warmup_epochs is not None and training_args.warmup_steps > 0:
        raise ConfigError(
            f"--warmup_epochs {args.warmup_epochs:g} and --warmup_steps {training_args.warmup_steps:g} both set the "
            "warm-up; pass --warmup_epochs null to give it in steps"
        )
    if args.base_learning_rate is not None and training_args.learning_rate != TRAINER_DEFAULT_LEARNING_RATE:
        raise ConfigError(
            f"--learning_rate {training_args.learning_rate:g} and --base_learning_rate {args.base_learning_rate:g} "
            "both set the lr (the base is scaled by the total batch / 256); pass --base_learning_rate null to set "
            "the lr itself"
        )


def _schedule_args(
    args: FinetuneArguments, training_args: TrainingArguments, num_train_videos: int
) -> TrainingArguments:
    """Upstream conventions: lr scaled by the total batch, warm-up given in epochs.

    Raises:
        ConfigError: the last partial batch is dropped (upstream's ``drop_last``) and the training split holds fewer
            videos than one total batch, so an epoch would have no step.
    """
    total_batch = total_train_batch(training_args)
    if training_args.dataloader_drop_last and num_train_videos < total_batch:
        raise ConfigError(
            f"the training split has {num_train_videos} videos, fewer than one total batch of {total_batch} "
            f"(--per_device_train_batch_size x processes x --gradient_accumulation_steps): with the last partial batch "
            "dropped, as the official loader does, an epoch has no step; lower the batch or pass "
            "--dataloader_drop_last false"
        )
    changes: dict[str, Any] = {
        "remove_unused_columns": False,
        "ddp_find_unused_parameters": False,
        "label_names": ["labels"],
        "dataloader_pin_memory": torch.cuda.is_available(),
    }
    changes["learning_rate"] = schedule_learning_rates(args, total_batch, training_args.learning_rate)[0]
    if args.warmup_epochs is not None:
        steps_per_epoch = max(num_train_videos // total_batch, 1)
        changes["warmup_steps"] = int(round(args.warmup_epochs * steps_per_epoch))
    return dataclasses.replace(training_args, **changes)


def finetune(args: FinetuneArguments, training_args: TrainingArguments) -> dict[str, Any]:
    """Fine-tune (unless ``eval_only``) and test with multi-view testing; returns the results dict."""
    # Setup: device and precision, the seed, the data and the model.
    check_schedule_options(args, training_args)
    training_args = hub_token_kept_out_of_saved_files(training_args)
    training_args = keep_workers_for_the_cache(args, resolve_device_and_precision(args, training_args))
    set_seed(training_args.seed)
    output_dir = output_folder(training_args.output_dir, "--output_dir", make=False)  # made once the data is read
    refuse_another_jobs_folder(output_dir, EVAL_ONLY_JOB if args.eval_only else "finetune")
    # eval-only trains nothing: checkpoints in its folder are not in its way
    resume_from = None if args.eval_only else resolve_trainer_resume(_resume_option(args, training_args), output_dir)
    data: FinetuneData = resolve_data(args, training_args.seed)
    data, unreadable = _scored_splits_readable(args, data)
    output_folder(output_dir, "--output_dir")
    model, origin = build_classifier(args, data.class_names, output_dir)
    if resume_from is not None:
        _require_fitting_checkpoint(Path(resume_from), model, data.class_names)
        if problem := other_batch_problem(resume_from, batch_of_a_step(training_args)):
            raise CheckpointError(f"--resume {resume_from}: {problem}")
    if args.gradient_checkpointing_blocks:
        model.activation_checkpointing_enable()
    # Schedule: the lr scaled by the total batch, the warm-up given in epochs.
    if data.train is not None:
        training_args = _schedule_args(args, training_args, len(data.train.videos))
    learning_rates = schedule_learning_rates(args, total_train_batch(training_args), training_args.learning_rate)
    # The Trainer, checked against the launch's strategy, and the run record.
    trainer = _build_trainer(args, training_args, model, data, learning_rates)
    # Every process built the same model from the seed; from here each draws its own mixup / cutmix and drop-path
    # masks, as upstream seeds each rank with seed + rank (one seed would repeat one draw on every GPU).
    set_seed(training_args.seed + trainer.accelerator.process_index)
    record = {
        **_run_record(args, training_args, trainer, origin, data, learning_rates),
        "resumed_from": resume_from,
        "unreadable_videos_left_out": unreadable,
    }
    write_record = trainer.is_world_process_zero()
    if resume_from is not None:
        record["earlier_segments"] = earlier_segments(
            output_dir,
            record,
            _recorded_options,
            _BOOKKEEPING_OPTIONS,
            write_record,
            length=("num_train_epochs", "max_steps"),
            kept_once=("log_history",),  # the resumed Trainer carries the history on
        )
    if write_record:
        _write_run_config(output_dir, record)

    # Training (unless eval only): the final model in final/, the record completed.
    checkpoint = str(args.init_from or "scratch")
    if data.train is not None:
        if resume_from is not None and trainer.is_world_process_zero():  # one process carries every rank's record
            trainer.skipped_videos.carry_on(read_from_checkpoint(resume_from))
        train_output = trainer.train(resume_from_checkpoint=resume_from)
        record["distributed"] = applied_strategy(trainer.accelerator, trainer.model)  # as prepared for training
        require_requested_strategy(record["distributed"])
        checkpoint = str(output_dir / FINAL_MODEL_DIR)
        trainer.save_model(checkpoint)
        # collective: the undecodable training videos every rank passed over (since the run started), with the reason
        record["skipped_training_videos"] = trainer.skipped_videos.gathered()
        if write_record:  # the record gains the training summary (runtime, final loss) and the strategy applied
            record["train"] = train_output.metrics
            record["log_history"] = trainer.state.log_history  # loss and single-view validation per logging step
            _write_run_config(output_dir, record)

    # The multi-view test and its results files.
    test = _test_dataset(args, data.test, args.test_num_segment, args.test_num_crop)
    autocast = torch.bfloat16 if training_args.bf16 else None
    predictions = predict_multiview(
        trainer.model,
        test,
        videos_per_batch=args.test_videos_per_batch,
        num_workers=training_args.dataloader_num_workers,
        accelerator=trainer.accelerator,
        autocast_dtype=autocast,
        progress=not training_args.disable_tqdm,
    )
    metrics = multiview_metrics(predictions, len(data.class_names))
    results = _report(args, training_args, trainer, data, record, predictions, metrics, checkpoint, output_dir)
    trainer.accelerator.wait_for_everyone()
    return results


def _scored_splits_readable(args: FinetuneArguments, data: FinetuneData) -> tuple[FinetuneData, list[dict]]:
    """The validation and test splits without the videos that do not open (``without_unreadable``), checked before
    anything trains; the left-out ones warned about and returned for the run record."""
    splits = {"eval": data.eval, "test": data.test}
    checked: dict[str, LabelledVideos] = {}
    left_out: list[dict] = []
    for role, split in splits.items():
        if split is None:
            continue
        same = role == "test" and data.eval is not None and split.videos == data.eval.videos
        checked[role], dropped = (checked["eval"], []) if same else without_unreadable(split, args)
        left_out += dropped
    if left_out:
        shown = "; ".join(f"{item['video']} ({item['reason']})" for item in left_out[:3])
        logger.warning(
            "%d validation/test videos do not open and are left out (recorded in run_config.json): %s%s",
            len(left_out),
            shown,
            " ..." if len(left_out) > 3 else "",
        )
    return dataclasses.replace(data, eval=checked.get("eval"), test=checked["test"]), left_out


def _build_trainer(
    args: FinetuneArguments,
    training_args: TrainingArguments,
    model: torch.nn.Module,
    data: FinetuneData,
    learning_rates: tuple[float, float, float],
) -> VideoClassificationTrainer:
    """The Trainer with the recipe (mixup/cutmix when training with them), on the launch's strategy (FSDP made to
    apply to CPU gloo ranks too)."""
    peak_lr, min_lr, warmup_lr = learning_rates
    mixup = None
    if data.train is not None and (args.mixup > 0 or args.cutmix > 0):
        mixup = VideoMixup(
            len(data.class_names),
            mixup_alpha=args.mixup,
            cutmix_alpha=args.cutmix,
            prob=args.mixup_prob,
            switch_prob=args.mixup_switch_prob,
            label_smoothing=training_args.label_smoothing_factor,
        )
        clips = training_args.per_device_train_batch_size * args.num_sample
        if clips % 2:  # timm's Mixup takes even batches only (upstream stops on an odd one)
            logger.warning(
                "mixup/cutmix need an even batch: batches of %d clips (--per_device_train_batch_size %d x "
                "--num_sample %d) are trained with label smoothing alone; make the batch even to mix",
                clips,
                training_args.per_device_train_batch_size,
                args.num_sample,
            )
    data_seed = training_args.data_seed if training_args.data_seed is not None else training_args.seed
    fsdp_version = (training_args.fsdp_plugin_args or {}).get("fsdp_version")
    if (fsdp_version is not None or fsdp_requested()) and not torch.cuda.is_available():
        # These arguments' gloo ranks (their PartialState) must exist before FSDP is made to apply to them.
        _ = training_args.device
        prepare_cpu_fsdp(fsdp_version)
    trainer = VideoClassificationTrainer(
        model=model,
        args=training_args,
        data_collator=collate_clips,
        train_dataset=_train_dataset(args, data.train, data_seed) if data.train is not None else None,
        eval_dataset=_test_dataset(args, data.eval, validation=True) if data.eval is not None else None,
        compute_metrics=single_view_metrics,
        layer_decay=args.layer_decay,
        min_lr_ratio=min_lr / peak_lr,
        warmup_start_ratio=warmup_lr / peak_lr,
        mixup=mixup,
    )
    check_wrap_classes(trainer.accelerator, model)
    if fsdp_requested() and not trainer.is_fsdp_enabled:
        require_requested_strategy(applied_strategy(trainer.accelerator, model))
    return trainer


def _resume_option(args: FinetuneArguments, training_args: TrainingArguments) -> str | None:
    """``--resume``, or TrainingArguments' ``--resume_from_checkpoint`` (the same thing under Trainer's name)."""
    theirs = training_args.resume_from_checkpoint
    if args.resume and theirs and args.resume != theirs:
        raise ConfigError(f"--resume {args.resume} and --resume_from_checkpoint {theirs}: give one of them")
    return args.resume or theirs


def _require_fitting_checkpoint(checkpoint: Path, model: torch.nn.Module, class_names: list[str]) -> None:
    """A checkpoint of another model (another preset or class count: weights of other shapes) ends here, named,
    before anything trains; Trainer would stop in ``load_state_dict`` with a traceback. So does one whose head
    answers in another class order than this run's data (same shapes: it would go on training every row of the
    head towards another class, without a word), e.g. Kinetics-400 CSVs whose classes now take the official order."""
    problem = checkpoint_fits(checkpoint, model) or _class_order_problem(
        checkpoint_class_names(str(checkpoint)), class_names
    )
    if problem is not None:
        raise CheckpointError(
            f"--resume {checkpoint}: its weights do not fit the model this run builds ({problem}); resume with the "
            "options the run started with (its run_config.json), or train into another --output_dir"
        )


def _class_order_problem(saved: list[str] | None, class_names: list[str]) -> str | None:
    """Where the checkpoint's head classes (its ``id2label``, None when it has no names) and the data's differ."""
    if saved is None or saved == class_names:
        return None
    if len(saved) != len(class_names):
        return f"its head has {len(saved)} classes, this run's data {len(class_names)}"
    index = next(i for i, (a, b) in enumerate(zip(saved, class_names)) if a != b)
    return f"its head's class {index} is {saved[index]!r}, this run's data has {class_names[index]!r} there"


# Options a resumed run may change without changing what is trained: how it reads, validates and tests, and where
# the weights first came from (a resume loads the checkpoint's).
_BOOKKEEPING_OPTIONS = {
    "resume", "decode_backend", "decoded_cache_mb", "gradient_checkpointing_blocks", "test_num_segment",
    "test_num_crop", "test_videos_per_batch", "max_eval_videos", "hardware", "eval_split", "test_split",
    "missing_videos", "init_from",
}  # fmt: skip
# TrainingArguments that change what is trained (the others say where, how often and how it is recorded).
_COMPARED_TRAINING_ARGUMENTS = (
    "learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm", "optim",
    "per_device_train_batch_size", "gradient_accumulation_steps", "warmup_steps", "label_smoothing_factor", "seed",
    "data_seed", "bf16", "fp16", "num_train_epochs", "max_steps", "dataloader_drop_last",
)  # fmt: skip


def _recorded_options(record: dict[str, Any]) -> dict[str, Any]:
    """A run record's options that a resumed run is compared on: ``args``, the TrainingArguments that train and the
    number of processes (a factor of the total batch, which scales the lr and sets the steps of an epoch)."""
    training = record.get("training_args", {})
    return {
        **record.get("args", {}),
        **{key: training.get(key) for key in _COMPARED_TRAINING_ARGUMENTS},
        "num_processes": record.get("num_processes"),
    }


def _run_record(
    args: FinetuneArguments,
    training_args: TrainingArguments,
    trainer: VideoClassificationTrainer,
    origin: str,
    data: FinetuneData,
    learning_rates: tuple[float, float, float],
) -> dict[str, Any]:
    """What ``run_config.json`` records before training: options, versions, processes, classes, lrs, videos."""
    peak_lr, min_lr, warmup_lr = learning_rates
    return {
        "job": "finetune",
        "args": to_json_dict(args),
        "training_args": json.loads(training_args.to_json_string()),
        "versions": versions(),
        "num_processes": trainer.accelerator.num_processes,
        "init_from": origin,
        "num_classes": len(data.class_names),
        "learning_rates": {"peak": peak_lr, "min": min_lr, "warmup_start": warmup_lr},
        "videos": {split.name: len(split.videos) for split in (data.train, data.eval, data.test) if split is not None},
    }


def _report(
    args: FinetuneArguments,
    training_args: TrainingArguments,
    trainer: VideoClassificationTrainer,
    data: FinetuneData,
    record: dict[str, Any],
    predictions: MultiViewPredictions,
    metrics: dict[str, Any],
    checkpoint: str,
    output_dir: Path,
) -> dict[str, Any]:
    """The test results; process zero writes the results files (``write_test_results``) and prints a line."""
    results = {
        "dataset": data.dataset,
        "split": data.test.name,
        "views": f"{args.test_num_segment}x{args.test_num_crop}",
        "top1": metrics["top1"],
        "top5": metrics["top5"],
        "mean_class_accuracy": metrics["mean_class_accuracy"],
        "checkpoint": checkpoint,
        "seed": training_args.seed,
    }
    if not trainer.is_world_process_zero():
        return results
    results = write_test_results(
        output_dir,
        predictions,
        metrics,
        class_names=data.class_names,
        videos=data.test.videos,
        video_ids=data.test.video_ids,
        dataset=results["dataset"],
        split=results["split"],
        views=results["views"],
        checkpoint=checkpoint,
        seed=training_args.seed,
        extra={
            "dataset_id": args.dataset,
            "dataset_config": str(args.split) if args.dataset in ("ucf101", "hmdb51") else None,
            "init_from": record["init_from"],
            "num_processes": trainer.accelerator.num_processes,
            "hardware": args.hardware or hardware_description(training_args),
            "recipe": {
                **record["args"],
                "learning_rate": record["learning_rates"]["peak"],
                "weight_decay": training_args.weight_decay,
                # the command line's (--auto_find_batch_size may have trained a step in smaller micro-batches)
                "per_device_train_batch_size": record["training_args"]["per_device_train_batch_size"],
                "num_train_epochs": training_args.num_train_epochs,
                "max_steps": training_args.max_steps,
                "label_smoothing_factor": training_args.label_smoothing_factor,
            },
            "versions": versions(),
        },
    )
    summary = (
        f"{results['dataset']} {results['split']}"
        + (f" (split {results['dataset_config']})" if results["dataset_config"] else "")
        + f", {results['views']} views, {results['num_videos']} videos: "
        f"top-1 {results['top1']:.2f}%, top-5 {results['top5']:.2f}%, "
        f"mean class {results['mean_class_accuracy']:.2f}% "
        f"({results['clips_per_second']:.1f} clips/s) -> {output_dir / RESULTS_FILE}"
    )
    print(summary, flush=True)
    return results
