"""Gradio Space: classify the action in a short video with a fine-tuned VideoMAE V2 model.

Upload a clip (or pick an example) -> top-5 labels with probabilities, the frames the model saw, and how
long each step took. Two modes:

* fast: one clip (the official validation clip: ``num_frames`` frames spread over the centred
  ``num_frames x sampling_rate`` span), centre crop;
* accurate: ``ACCURATE_VIEWS`` (temporal x spatial, default 2x3) views; their softmax scores are averaged.

The API endpoint is ``/classify`` (``api_name="classify"``): inputs (video, mode), outputs (label, frames,
details). Environment:

    MODEL_ID           a model folder or Hub id (default: runs/quickstart/model/, what the quickstart writes)
    ACCURATE_VIEWS     views of the accurate mode, "TxS" (default 2x3)
    MAX_UPLOAD_MB      largest accepted upload (default 100)
    MAX_VIDEO_PIXELS, MAX_ASPECT_RATIO, MAX_VIDEO_FPS, MAX_VIDEO_FRAMES, MAX_VIDEO_SECONDS, MAX_DECODED_FRAMES,
    REQUEST_TIMEOUT_SECONDS
                       what one upload may cost, checked before decoding (hf_tiktokactions/data/video_budget.py)
    QUEUE_MAX_SIZE     requests waiting at most (default 20; more are told the queue is full)
    UPLOAD_MAX_AGE_SECONDS  uploads are deleted after this many seconds (default 1800)
    INFERENCE_DTYPE    float32 | bfloat16 | auto (default auto: bfloat16 where the CPU has native bf16)
    TORCH_THREADS      torch intra-op threads (default: all cores)
    EXAMPLES_DIR       where the synthetic example clips are made (default: a cache folder)

Run locally: ``MODEL_ID=path/to/model python spaces/app.py`` (GRADIO_SERVER_PORT picks the port).
"""

from __future__ import annotations

import os

# Nothing of this app phones home: no analytics, no version check.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from hf_tiktokactions.data.transforms import resize_clip
from hf_tiktokactions.data.video_budget import VideoBudget
from hf_tiktokactions.errors import SingleImageError, TikTokActionsError, VideoDecodeError
from hf_tiktokactions.hub.processor_config import read_preprocessing
from hf_tiktokactions.inference import PreprocessingSpec, VideoClassifier, top_labels
from hf_tiktokactions.redaction import redact

log = logging.getLogger("space")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "runs" / "quickstart"  # the quickstart's output; its Space-ready folder is model/
BUNDLED_MODEL_DIR = Path(__file__).resolve().parent / "model"  # what a Space folder from `hub export --space` carries
FAST, ACCURATE = "fast (1 view)", "accurate (multi-view)"
TOP_K = 5
GALLERY_SIDE = 160  # pixels: the gallery shows small copies of the model's crops


class UserInputError(Exception):
    """A problem with the upload, reported to the user as it is."""


@dataclass
class Prediction:
    """What one request produced."""

    scores: dict[str, float]  # label -> probability, top-5
    frames: list[np.ndarray]  # uint8 (H, W, C) frames of the first view, as the model saw them
    details: str  # markdown: views, timings
    seconds: dict[str, float]  # decode, preprocess, model, total


def _env_int(name: str, default: int) -> int:
    """A positive integer from the environment (every count and limit here must be one)."""
    value = os.environ.get(name, "").strip()
    try:
        number = int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer") from None
    if number < 1:
        raise SystemExit(f"{name}={value!r} must be at least 1")
    return number


def _parse_views(text: str) -> tuple[int, int]:
    try:
        temporal, spatial = (int(part) for part in text.lower().split("x"))
        if temporal < 1 or spatial < 1:
            raise ValueError
    except ValueError:
        raise SystemExit(f"ACCURATE_VIEWS={text!r}: use TEMPORALxSPATIAL, e.g. 2x3") from None
    return temporal, spatial


def _pick_dtype(name: str) -> torch.dtype:
    if name == "auto":
        try:  # oneDNN runs bf16 natively only on CPUs with avx512_bf16 / AMX; elsewhere it is slower than fp32
            native_bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        except (AttributeError, RuntimeError):
            native_bf16 = False
        return torch.bfloat16 if native_bf16 else torch.float32
    if name not in ("float32", "bfloat16"):
        raise SystemExit(f"INFERENCE_DTYPE={name!r}: use float32, bfloat16 or auto")
    return getattr(torch, name)


def resolve_model_location(model_id: str | None) -> str:
    """``MODEL_ID`` if set, else ``model/`` next to this file, else ``runs/quickstart/model/`` (or
    ``runs/quickstart/``); else a clear error."""
    if model_id:
        local = Path(model_id).expanduser()
        if local.exists() and not (local / "config.json").is_file():
            raise UserInputError(
                f"MODEL_ID={model_id}: the folder has no config.json; point it at a saved or exported model"
            )
        return str(local) if local.exists() else model_id
    for folder in (BUNDLED_MODEL_DIR, DEFAULT_MODEL_DIR / "model", DEFAULT_MODEL_DIR):
        if (folder / "config.json").is_file():
            return str(folder)
    raise UserInputError(
        f"No model: MODEL_ID is not set and {DEFAULT_MODEL_DIR}/model holds no model. Set MODEL_ID to a model "
        "folder or Hub id (a fine-tuned VideoMAE V2 classifier), or run the quickstart, which writes "
        "runs/quickstart/model/."
    )


class ActionClassifier(VideoClassifier):
    """The served model (``hf_tiktokactions.inference.VideoClassifier``) loaded from ``location``; ``predict(path,
    mode)`` classifies one upload and reports what it did for the page."""

    def __init__(self, location: str, accurate_views: tuple[int, int] = (2, 3), dtype: torch.dtype = torch.float32):
        from hf_tiktokactions.hub.export import load_classifier  # refuses folders without a trained head

        model = load_classifier(location)
        spec = (
            read_preprocessing(location, model.config) if Path(location).is_dir() else self._hub_spec(location, model)
        )
        super().__init__(model, spec, dtype)
        self.location = location
        self.accurate_views = accurate_views

    @staticmethod
    def _hub_spec(model_id: str, model) -> PreprocessingSpec:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(model_id, allow_patterns=["*preprocessor_config.json"])
        return read_preprocessing(folder, model.config)

    def predict(self, path: str, mode: str = FAST, budget: VideoBudget | None = None) -> Prediction:
        """Top-5 labels for the video at ``path``: one clip (fast) or ``accurate_views`` views.

        Raises ``UserInputError`` for unusable uploads and ``BudgetExceeded`` (naming the limit) for one that
        would cost more than ``budget`` (default: ``VideoBudget()``): the file is probed before anything is decoded.
        """
        started = time.perf_counter()
        try:
            result = self.classify(path, None if mode == FAST else self.accurate_views, budget)
        except SingleImageError:
            raise UserInputError("This file holds a single image, not a video. Upload a video clip.") from None
        except VideoDecodeError:
            raise UserInputError(
                "This file could not be read as a video (it is corrupt, truncated or not a video). "
                "Upload an MP4, WebM or MOV clip."
            ) from None
        spec, seconds = self.spec, result.seconds
        details = (
            f"**{result.num_views} view{'s' if result.num_views > 1 else ''}** of {spec.num_frames} frames "
            f"({'TSN segments' if spec.segment_based else f'{spec.sampling_rate} frames apart'}) "
            f"from {result.num_video_frames} frames at {result.fps:.1f} fps. "
            f"Decode {seconds['decode']:.2f} s, preprocess {seconds['preprocess']:.2f} s, "
            f"model {seconds['model']:.2f} s "
            f"({str(self.dtype).replace('torch.', '')}, torch threads: {torch.get_num_threads()})."
        )
        scores = top_labels(result.probabilities, self.model.config.id2label, TOP_K)
        frames_shown = gallery_frames(result.first_view)
        seconds = {**seconds, "total": time.perf_counter() - started}
        return Prediction(scores, frames_shown, details, seconds)


def gallery_frames(clip: torch.Tensor, side: int = GALLERY_SIDE) -> list[np.ndarray]:
    """uint8 (T, C, H, W) -> T small uint8 (side, side, C) images for the gallery."""
    small = resize_clip(clip, (side, side))
    return list(small.permute(0, 2, 3, 1).contiguous().numpy())


def example_clips(folder: str | os.PathLike) -> list[str]:
    """One synthetic clip per action (made once, then reused), as example uploads."""
    from hf_tiktokactions.data.synthetic import make_synthetic_actions

    root = make_synthetic_actions(
        folder, clips_per_class=1, num_frames=64, val_fraction=0.0, test_fraction=0.0, progress=False
    )
    return sorted(str(path) for path in Path(root).glob("train/*/*.mp4"))


def build_demo(
    classifier: ActionClassifier | None,
    problem: str = "",
    examples: list[str] = (),
    budget: VideoBudget | None = None,
    upload_max_age: int = 1800,
) -> gr.Blocks:
    """The page. With ``classifier=None`` it explains ``problem`` and every request gets that message.

    Uploads (classified or not) are deleted ``upload_max_age`` to 1.5 x ``upload_max_age`` seconds after they arrive.
    """
    budget = budget or VideoBudget()

    def classify(video: str | None, mode: str = FAST):
        if classifier is None:
            raise gr.Error(problem)
        if not video:
            raise gr.Error("Upload a video first (or pick one of the examples).")
        if mode not in (FAST, ACCURATE):
            raise gr.Error(f"mode must be {FAST!r} or {ACCURATE!r}")
        limit_mb = _env_int("MAX_UPLOAD_MB", 100)
        size_mb = os.path.getsize(video) / 2**20 if os.path.isfile(video) else 0
        if size_mb > limit_mb:
            raise gr.Error(f"The file is {size_mb:.0f} MB; this demo takes uploads up to {limit_mb} MB.")
        try:
            prediction = classifier.predict(video, mode, budget)
        except (UserInputError, TikTokActionsError) as error:
            raise gr.Error(str(error)) from None
        except Exception:
            log.exception("classify failed for %s", video)
            raise gr.Error("Something went wrong while classifying this video; try another file.") from None
        return prediction.scores, prediction.frames, prediction.details

    delete_cache = (max(1, upload_max_age // 2), upload_max_age)  # (every, older than) seconds
    with gr.Blocks(title="TikTokActions: action recognition", delete_cache=delete_cache) as demo:
        gr.Markdown(
            "# Human action recognition with VideoMAE V2\n"
            "Upload a short video of a person (or pick an example): the model names the action. "
            "*Fast* looks at one clip; *accurate* averages several clips and crops."
        )
        if classifier is None:
            gr.Markdown(f"**This Space has no model yet.** {problem}", elem_id="no-model")
        with gr.Row():
            with gr.Column():
                video = gr.Video(
                    label="Video", sources=["upload"], format=None, include_audio=True, elem_id="video-input"
                )
                mode = gr.Radio([FAST, ACCURATE], value=FAST, label="Mode", elem_id="mode")
                button = gr.Button("Classify", variant="primary", elem_id="classify-button")
                if examples:
                    gr.Examples(
                        examples=[[path] for path in examples], inputs=[video], label="Examples (synthetic clips)"
                    )
            with gr.Column():
                label = gr.Label(num_top_classes=TOP_K, label="Top-5 actions", elem_id="labels")
                frames = gr.Gallery(
                    label="Frames the model saw (first view)", columns=8, height="auto", format="jpeg", elem_id="frames"
                )
                details = gr.Markdown(label="Details", elem_id="details")
        button.click(classify, inputs=[video, mode], outputs=[label, frames, details], api_name="classify")
    return demo


def create_app() -> tuple[gr.Blocks, ActionClassifier | None]:
    """Read the environment, load the model (or the reason there is none) and build the page."""
    threads = _env_int("TORCH_THREADS", os.cpu_count() or 1)
    torch.set_num_threads(threads)
    try:
        budget = VideoBudget.from_env()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    classifier, problem = None, ""
    try:
        location = resolve_model_location(os.environ.get("MODEL_ID", "").strip() or None)
        classifier = ActionClassifier(
            location,
            accurate_views=_parse_views(os.environ.get("ACCURATE_VIEWS", "2x3")),
            dtype=_pick_dtype(os.environ.get("INFERENCE_DTYPE", "auto").strip().lower()),
        )
        classifier.warm_up()
    except UserInputError as error:
        problem = str(error)
    except (OSError, ValueError, TikTokActionsError) as error:
        model_id = os.environ.get("MODEL_ID") or DEFAULT_MODEL_DIR
        problem = f"MODEL_ID={model_id}: cannot load the model ({str(error).splitlines()[0]})."
    if problem:
        problem = redact(problem)  # the page is public: a Hub error must not show the Space's HF_TOKEN
        print(f"space: {problem}", file=sys.stderr)
    examples_dir = os.environ.get("EXAMPLES_DIR") or str(Path.home() / ".cache" / "hf-tiktokactions" / "space-examples")
    examples = example_clips(examples_dir)
    return build_demo(classifier, problem, examples, budget, _env_int("UPLOAD_MAX_AGE_SECONDS", 1800)), classifier


THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])  # no web fonts

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    demo, _ = create_app()
    demo.queue(default_concurrency_limit=1, max_size=_env_int("QUEUE_MAX_SIZE", 20)).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        max_file_size=f"{_env_int('MAX_UPLOAD_MB', 100)}mb",
        ssr_mode=False,
        theme=THEME,
        footer_links=["api"],
    )
