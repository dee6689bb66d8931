"""Multi-view testing as in the official code: every view of a video in one batch, softmax averaged over views.

``predict_multiview`` runs a classifier over a ``MultiViewVideoDataset`` (sharded over processes by Accelerate,
gathered back without the padding duplicates) and returns per-video probabilities, averaged over the views
as everywhere else (``hf_tiktokactions/inference.py``); ``multiview_metrics`` scores
them with the package's own ``evaluate`` modules (offline). Writing the results files is ``results.py``'s job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data.finetune_dataset import MultiViewVideoDataset, collate_clips
from ..data.transforms import normalize_video
from ..inference import average_view_probabilities
from .metrics import load_metric


@dataclass
class MultiViewPredictions:
    """Per-video results of multi-view testing, in dataset order."""

    probabilities: np.ndarray  # float (N, K), view-averaged softmax
    labels: np.ndarray  # int64 (N,)
    indices: np.ndarray  # int64 (N,), positions in the dataset
    num_views: int
    seconds: float  # wall time of decoding + inference

    @property
    def clips_per_second(self) -> float:
        return len(self.labels) * self.num_views / max(self.seconds, 1e-9)


@torch.no_grad()
def predict_multiview(
    model: torch.nn.Module,
    dataset: MultiViewVideoDataset,
    *,
    videos_per_batch: int = 4,
    num_workers: int = 0,
    accelerator=None,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> MultiViewPredictions:
    """Run ``model`` on every view of every video; with an ``accelerate.Accelerator`` the videos are split over
    its processes and every process gets all predictions back.

    A batch holds ``videos_per_batch * dataset.num_views`` clips (the views of a video are never split).
    ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the forward under autocast on the model's device.
    uint8 clips (``MultiViewVideoDataset(normalize=False)``) are normalised on that device.
    """
    loader = DataLoader(
        dataset,
        batch_size=videos_per_batch,
        collate_fn=collate_clips,
        num_workers=num_workers,
        shuffle=False,
        pin_memory=torch.cuda.is_available(),
    )
    device = next(model.parameters()).device
    if accelerator is not None:
        loader = accelerator.prepare_data_loader(loader, device_placement=True)
    model.eval()
    views = dataset.num_views
    probabilities, labels, indices = [], [], []
    started = time.perf_counter()
    show = progress and (accelerator is None or accelerator.is_local_main_process)
    for batch in tqdm(loader, desc=f"testing {views} views", unit="batch", disable=not show):
        pixel_values = batch["pixel_values"].to(device, non_blocking=True)
        if pixel_values.dtype == torch.uint8:  # a dataset with normalize=False: normalise here, on the device
            pixel_values = normalize_video(pixel_values)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(pixel_values=pixel_values).logits
        video_probabilities = average_view_probabilities(logits, views)  # (B, K)
        video_labels = batch["labels"].to(device).view(-1, views)[:, 0]
        video_indices = batch["index"].to(device)
        if accelerator is not None:
            video_probabilities, video_labels, video_indices = accelerator.gather_for_metrics(
                (video_probabilities, video_labels, video_indices)
            )
        probabilities.append(video_probabilities.cpu())
        labels.append(video_labels.cpu())
        indices.append(video_indices.cpu())
    seconds = time.perf_counter() - started
    order = torch.cat(indices).argsort()
    return MultiViewPredictions(
        probabilities=torch.cat(probabilities)[order].numpy(),
        labels=torch.cat(labels)[order].numpy(),
        indices=torch.cat(indices)[order].numpy(),
        num_views=views,
        seconds=seconds,
    )


def classification_metrics(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """Top-1, top-5 and mean class accuracy in percent, and the (K, K) confusion matrix, from (N, K) scores.

    Every number comes from the package's ``evaluate`` modules, loaded by local path (no network).
    """
    predicted = scores.argmax(axis=1)
    top_k = load_metric("top_k_accuracy")
    return {
        "top1": 100 * top_k.compute(predictions=scores, references=labels, k=1)["top_k_accuracy"],
        "top5": 100 * top_k.compute(predictions=scores, references=labels, k=5)["top_k_accuracy"],
        "mean_class_accuracy": 100
        * load_metric("mean_class_accuracy").compute(predictions=predicted, references=labels)["mean_class_accuracy"],
        "confusion_matrix": load_metric("confusion_matrix").compute(
            predictions=predicted, references=labels, num_classes=num_classes
        )["confusion_matrix"],
    }


def multiview_metrics(predictions: MultiViewPredictions, num_classes: int) -> dict:
    """``classification_metrics`` of the view-averaged probabilities."""
    return classification_metrics(predictions.probabilities, predictions.labels, num_classes)
