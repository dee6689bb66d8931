"""Making the synthetic action set on disk: per-clip sampling, H.264 encoding, layout, metadata.

See the package docstring (``hf_tiktokactions.data.synthetic``) for what the set is.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from hf_tiktokactions.atomic_files import write_text_atomic
from hf_tiktokactions.data.synthetic.poses import ACTIONS, Motion, action_poses
from hf_tiktokactions.data.synthetic.render import Scene, render_frames
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.layout import SYNTHETIC_CONFIG_FILE as CONFIG_FILE
from hf_tiktokactions.layout import SYNTHETIC_METADATA_FILE as METADATA_FILE
from hf_tiktokactions.layout import SYNTHETIC_SUMMARY_FILE as SUMMARY_FILE

DEFAULT_ACTIONS = tuple(ACTIONS)  # clap, jump, kick, sit_down, spin, stand_up, wave
SPLITS = ("train", "val", "test")


@dataclass
class SyntheticActionsConfig:
    """Options of the synthetic set; the same names are the CLI's options."""

    clips_per_class: int = 40
    seed: int = 0
    size: int = 112
    num_frames: int = 32
    fps: int = 15
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    actions: list[str] = field(default_factory=lambda: list(DEFAULT_ACTIONS))
    crf: int = 18

    def validate(self) -> None:
        unknown = [action for action in self.actions if action not in ACTIONS]
        if unknown:
            raise ConfigError(f"unknown actions {unknown}; choose from {', '.join(ACTIONS)}")
        if self.size < 32 or self.size % 2:
            raise ConfigError(f"size must be even and at least 32 (H.264 yuv420p), not {self.size}")
        if self.num_frames < 2 or self.fps < 1 or self.clips_per_class < 1:
            raise ConfigError("num_frames must be >= 2, and fps and clips_per_class >= 1")
        if not 0 <= self.val_fraction + self.test_fraction < 1 or min(self.val_fraction, self.test_fraction) < 0:
            raise ConfigError("val_fraction and test_fraction must be >= 0 and add up to less than 1")


@dataclass(frozen=True)
class ClipSpec:
    """One clip to make: which action, its index within the action, its split, and its seed."""

    action: str
    index: int
    split: str
    seed: int

    @property
    def relative_path(self) -> str:
        return f"{self.split}/{self.action}/{self.action}_{self.index:04d}.mp4"


# ---------------------------------------------------------------------------------------------- sampling


def clip_seed(seed: int, action: str, index: int) -> int:
    """Seed of one clip, independent of how many clips or which other actions are made."""
    action_key = int.from_bytes(action.encode(), "little") % (2**32)
    return int(np.random.SeedSequence([seed, action_key, index]).generate_state(1)[0])


def sample_clip(seed: int, size: int, num_frames: int) -> tuple[Motion, Scene]:
    """Draw the motion and the scene of one clip. The draw does not depend on the action, so the
    same seed played as ``sit_down`` and as ``stand_up`` gives the same poses in reverse order."""
    rng = np.random.default_rng(seed)
    motion = Motion(
        speed=float(rng.uniform(0.7, 1.4)),
        phase=float(rng.uniform(0, 1)),
        onset=float(rng.uniform(0, 1)),
        duration=float(rng.uniform(0.35, 0.6)),
        amplitude=float(rng.uniform(0.8, 1.15)),
    )
    background = rng.uniform(0, 1, (2, 3))
    body_color = _contrasting_color(rng, background.mean(axis=0))
    figure_height = rng.uniform(0.45, 0.72) * size
    num_blobs = int(rng.integers(2, 6))
    scene = Scene(
        size=size,
        side=int(rng.choice([-1, 1])),
        figure_height=float(figure_height),
        figure_x=float(rng.uniform(-0.18, 0.18) * size),
        ground_y=float(rng.uniform(0.82, 0.95) * size),
        thickness=float(rng.uniform(0.045, 0.075) * figure_height + 1.0),
        body_color=body_color,
        head_color=np.clip(body_color + rng.uniform(-0.25, 0.25, 3), 0, 1),
        background=background,
        gradient_angle=float(rng.uniform(0, 2 * np.pi)),
        floor_color=rng.uniform(0, 1, 3),
        blob_centers=np.stack([rng.uniform(-0.5, 0.5, num_blobs), rng.uniform(0, 1, num_blobs)], axis=1) * size,
        blob_radii=rng.uniform(0.05, 0.25, num_blobs) * size,
        blob_colors=rng.uniform(0, 1, (num_blobs, 3)),
        blob_strength=rng.uniform(0.2, 0.7, num_blobs),
        shake=_camera_shake(rng, num_frames, amplitude=float(rng.uniform(0, 0.02) * size)),
        noise_std=float(rng.uniform(0, 0.04)),
        noise_seed=int(rng.integers(2**31)),
    )
    return motion, scene


def _contrasting_color(rng: np.random.Generator, against: np.ndarray, min_distance: float = 0.45) -> np.ndarray:
    """A random RGB colour at least ``min_distance`` (Euclidean, [0, 1] scale) from ``against``."""
    for _ in range(32):
        color = rng.uniform(0, 1, 3)
        if np.linalg.norm(color - against) >= min_distance:
            return color
    return np.where(against > 0.5, 0.05, 0.95)


def _camera_shake(rng: np.random.Generator, num_frames: int, amplitude: float) -> np.ndarray:
    """Smooth hand-held jitter (T, 2) in pixels: a sum of three random sinusoids per axis."""
    t = np.arange(num_frames)[:, None, None] / num_frames
    frequencies = rng.uniform(0.5, 4.0, (1, 3, 2))
    phases = rng.uniform(0, 2 * np.pi, (1, 3, 2))
    return amplitude * np.sin(2 * np.pi * frequencies * t + phases).sum(axis=1) / np.sqrt(3)


def render_clip(action: str, seed: int, size: int = 112, num_frames: int = 32) -> np.ndarray:
    """Frames (num_frames, size, size, 3) uint8 RGB of one clip."""
    motion, scene = sample_clip(seed, size, num_frames)
    return render_frames(action_poses(action, num_frames, motion), scene)


# ---------------------------------------------------------------------------------------------- writing


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: int, crf: int = 18) -> None:
    """Encode frames (T, H, W, 3) uint8 RGB as H.264 (libx264, yuv420p) into an MP4 at ``path``.

    The file appears at ``path`` only once complete (written as ``path.partial``, then renamed).
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    height, width = frames.shape[1:3]
    # One encoder thread: clips are made in parallel, and x264's thread pool costs more than it
    # gains on 112 x 112 frames. Explicit timestamps and no B-frames: without them libx264 (PyAV 18)
    # often encoded identical frames differently from run to run; with them it still does, rarely
    # (a few clips in thousands), so the set's determinism is defined on the rendered frames.
    options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "bf": "0"}
    with av.open(str(partial), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    os.replace(partial, path)


def plan_clips(config: SyntheticActionsConfig) -> list[ClipSpec]:
    """Every clip of the set, split by index within each action: train first, then val, then test."""
    n = config.clips_per_class
    num_val, num_test = round(n * config.val_fraction), round(n * config.test_fraction)
    num_train = n - num_val - num_test
    specs = []
    for action in config.actions:
        for index in range(n):
            split = "train" if index < num_train else "val" if index < num_train + num_val else "test"
            specs.append(ClipSpec(action, index, split, clip_seed(config.seed, action, index)))
    return specs


def _make_clip(spec: ClipSpec, config: SyntheticActionsConfig, out_dir: Path) -> dict:
    """Render and encode one clip unless it is already there; returns its metadata row."""
    path = out_dir / spec.relative_path
    made = not path.is_file()
    motion, scene = sample_clip(spec.seed, config.size, config.num_frames)
    if made:
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = render_frames(action_poses(spec.action, config.num_frames, motion), scene)
        write_mp4(frames, path, config.fps, config.crf)
    return {
        "path": spec.relative_path,
        "label": spec.action,
        "split": spec.split,
        "seed": spec.seed,
        "dataset_seed": config.seed,
        "index": spec.index,
        "frames": config.num_frames,
        "fps": config.fps,
        "size": config.size,
        "side": scene.side,
        "speed": round(motion.speed, 4),
        "made": made,
    }


def make_synthetic_actions(
    out_dir: str | os.PathLike,
    clips_per_class: int = 40,
    seed: int = 0,
    size: int = 112,
    num_frames: int = 32,
    fps: int = 15,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> Path:
    """Make (or complete) the synthetic action set in ``out_dir`` and return ``out_dir``.

    Idempotent: a complete set with the same options returns at once; an interrupted one is
    completed. ``options`` are the other fields of :class:`SyntheticActionsConfig` (``actions``,
    ``val_fraction``, ``test_fraction``, ``crf``). ``workers`` threads render and encode in
    parallel (numpy and x264 release the GIL); default: the number of CPU cores.

    Raises:
        ConfigError: ``out_dir`` holds a set made with different options.
    """
    config = SyntheticActionsConfig(clips_per_class, seed, size, num_frames, fps, **options)
    config.validate()
    out_dir = Path(out_dir).expanduser().absolute()
    _claim_output_dir(out_dir, config)
    specs = plan_clips(config)
    if _is_complete(out_dir, specs):
        return out_dir

    started = time.perf_counter()
    workers = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = pool.map(lambda spec: _make_clip(spec, config, out_dir), specs)
        rows = list(_progress(rows, len(specs), progress))
    seconds = time.perf_counter() - started

    made = sum(row.pop("made") for row in rows)
    write_text_atomic(out_dir / METADATA_FILE, "".join(json.dumps(row) + "\n" for row in rows))
    summary = {
        "out_dir": str(out_dir),
        "clips": len(rows),
        "made": made,
        "skipped": len(rows) - made,
        "per_split": {split: sum(row["split"] == split for row in rows) for split in SPLITS},
        "seconds": round(seconds, 3),
        "clips_per_s": round(made / seconds, 2) if made else None,
        "workers": workers,
        **asdict(config),
        "versions": {"hf_tiktokactions": _package_version(), "numpy": np.__version__, "av": av.__version__},
    }
    write_text_atomic(out_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    if progress:
        print(
            f"synthetic actions: {made} clips made, {len(rows) - made} already there, "
            f"{len(config.actions)} actions, {seconds:.1f} s -> {out_dir}",
            file=sys.stderr,
        )
    return out_dir


def _claim_output_dir(out_dir: Path, config: SyntheticActionsConfig) -> None:
    """Record the options in ``out_dir``, or check that an existing set was made with the same ones."""
    config_path = out_dir / CONFIG_FILE
    wanted = asdict(config)
    if config_path.is_file():
        existing = json.loads(config_path.read_text())
        if existing != wanted:
            differences = {
                key: (existing.get(key), value) for key, value in wanted.items() if existing.get(key) != value
            }
            raise ConfigError(
                f"{out_dir} holds a synthetic set made with other options {differences} (existing, requested); "
                "choose another output folder or delete this one."
            )
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(config_path, json.dumps(wanted, indent=2) + "\n")


def _is_complete(out_dir: Path, specs: list[ClipSpec]) -> bool:
    return (out_dir / METADATA_FILE).is_file() and all((out_dir / spec.relative_path).is_file() for spec in specs)


def _package_version() -> str:
    from hf_tiktokactions import __version__

    return __version__


def _progress(rows, total: int, enabled: bool):
    if not enabled:
        return rows
    from tqdm.auto import tqdm

    return tqdm(rows, total=total, desc="synthetic clips", unit="clip")
