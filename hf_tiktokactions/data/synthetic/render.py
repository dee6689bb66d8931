"""Vectorised drawing of the synthetic action clips: a stick figure over a textured background.

Everything is computed on whole (T, H, W) arrays with numpy broadcasting: distances from every
pixel to every limb segment, a gradient + soft-blob background, a floor band, per-frame camera
shake and sensor noise; the layers are composited in one matrix product. No per-pixel Python loop.

Coordinates: the scene is described in pixels with x measured from the image's vertical centre
line. ``Scene.side`` (+1 or -1) mirrors the whole scene about that line, by evaluating it at
``side * x``; with ``side = -1`` the frames are exactly the horizontal flip of ``side = +1``
(pixel centres are symmetric about the centre line), noise aside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hf_tiktokactions.data.synthetic.poses import HEAD_RADIUS, SEGMENTS, J


@dataclass(frozen=True)
class Scene:
    """Everything about a clip's look (all lengths in pixels unless said otherwise).

    size: frame height = width; side: +1 or -1 (mirror); figure_height: standing height;
    figure_x: x of the figure's axis, from the centre line; ground_y: y of the ground line, from the top;
    thickness: limb width; body_color, head_color: (3,) RGB in [0, 1];
    background: (2, 3) colours of the linear gradient; gradient_angle: its direction (radians);
    floor_color: (3,) colour below the ground line; blob_centers: (B, 2) x (from the centre line), y;
    blob_radii: (B,); blob_colors: (B, 3); blob_strength: (B,) opacity in [0, 1];
    shake: (T, 2) camera offset per frame; noise_std: sensor noise (fraction of full scale);
    noise_seed: seed of that noise.
    """

    size: int
    side: int
    figure_height: float
    figure_x: float
    ground_y: float
    thickness: float
    body_color: np.ndarray
    head_color: np.ndarray
    background: np.ndarray
    gradient_angle: float
    floor_color: np.ndarray
    blob_centers: np.ndarray
    blob_radii: np.ndarray
    blob_colors: np.ndarray
    blob_strength: np.ndarray
    shake: np.ndarray
    noise_std: float
    noise_seed: int


def pixel_grid(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates of the pixel centres per frame: x (T, 1, W) and y (T, H, 1).

    x is mirrored by ``scene.side`` and both follow the camera shake, so background and figure move
    together.
    """
    centres = np.arange(scene.size, dtype=np.float32) + 0.5
    x = scene.side * (centres - scene.size / 2)
    shake = scene.shake.astype(np.float32)
    return x[None, None, :] + shake[:, 0, None, None], centres[None, :, None] + shake[:, 1, None, None]


Layer = tuple[np.ndarray, np.ndarray]  # (coverage broadcastable to (T, H, W), colour (3,))


def background_layers(scene: Scene, x: np.ndarray, y: np.ndarray) -> list[Layer]:
    """Background as layers, bottom first: colour gradient, soft blobs, floor band below the ground."""
    ramp = (np.cos(scene.gradient_angle) * x + np.sin(scene.gradient_angle) * y) / scene.size + 0.5
    layers = [(np.ones((1, 1, 1), np.float32), scene.background[0]), (np.clip(ramp, 0, 1), scene.background[1])]
    # Python floats (not numpy float64 scalars) keep the arithmetic below in float32.
    centers, radii, strengths = scene.blob_centers.tolist(), scene.blob_radii.tolist(), scene.blob_strength.tolist()
    blobs = zip(centers, radii, scene.blob_colors, strengths, strict=True)
    for (cx, cy), radius, color, strength in blobs:
        # a Gaussian is separable: (T, 1, W) x (T, H, 1) instead of an exp over (T, H, W)
        falloff_x = np.exp(-((x - cx) ** 2) / (2 * radius**2))
        falloff_y = strength * np.exp(-((y - cy) ** 2) / (2 * radius**2))
        layers.append((falloff_x * falloff_y, color))
    floor = 0.85 * np.clip(y - scene.ground_y + 0.5, 0, 1)  # anti-aliased edge, a little see-through
    layers.append((floor, scene.floor_color))
    return layers


def composite(layers: list[Layer], shape: tuple[int, int, int]) -> np.ndarray:
    """Paint ``layers`` (bottom first) over each other: (T, H, W, 3) float32.

    Layer k ends up weighted by its coverage times the uncovered fraction of every layer above it,
    so the whole stack is one (T*H*W, K) x (K, 3) product instead of K passes over RGB frames.
    """
    coverage = np.stack([np.broadcast_to(alpha, shape) for alpha, _ in layers]).astype(np.float32, copy=False)
    weight = np.ones_like(coverage)  # (K, T, H, W): becomes the uncovered fraction above each layer
    for k in range(len(layers) - 2, -1, -1):  # K steps of whole-array work (np.cumprod is slower here)
        np.multiply(weight[k + 1], 1 - coverage[k + 1], out=weight[k])
    weight *= coverage
    colors = np.stack([np.asarray(color, dtype=np.float32) for _, color in layers])  # (K, 3)
    return np.einsum("kthw,kc->thwc", weight, colors, optimize=True)


def figure_coverage(joints: np.ndarray, scene: Scene, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased coverage of limbs and head, each (T, H, W) in [0, 1].

    joints: (T, J, 2) in body units (see ``poses``), placed so that y = 0 lies on the
    ground line and the standing figure is ``scene.figure_height`` pixels tall. Distances are only
    computed inside the window the figure can reach over the clip; outside it coverage is exactly 0.
    """
    scale = scene.figure_height / 0.95
    px = (scene.figure_x + scale * joints[..., 0]).astype(np.float32)  # (T, J)
    py = (scene.ground_y - scale * joints[..., 1]).astype(np.float32)
    head_radius = HEAD_RADIUS * scale
    reach = max(scene.thickness / 2, head_radius) + 1.0  # beyond this, coverage is 0
    cols = _window(x[:, 0, :], px.min() - reach, px.max() + reach)
    rows = _window(y[:, :, 0], py.min() - reach, py.max() + reach)
    x, y = x[:, :, cols], y[:, rows, :]

    ax, ay = px[:, SEGMENTS[:, 0], None, None], py[:, SEGMENTS[:, 0], None, None]  # (T, S, 1, 1)
    bx, by = px[:, SEGMENTS[:, 1], None, None], py[:, SEGMENTS[:, 1], None, None]
    abx, aby = bx - ax, by - ay
    xs, ys = x[:, None], y[:, None]  # (T, 1, 1, w), (T, 1, h, 1)
    along = ((xs - ax) * abx + (ys - ay) * aby) / np.maximum(abx * abx + aby * aby, 1e-6)
    along = np.clip(along, 0, 1)
    distance2 = (xs - ax - along * abx) ** 2 + (ys - ay - along * aby) ** 2  # (T, S, h, w)
    hx, hy = px[:, J["head"], None, None], py[:, J["head"], None, None]

    limbs = np.zeros((len(joints), scene.size, scene.size), np.float32)
    head = np.zeros_like(limbs)
    limbs[:, rows, cols] = np.clip(scene.thickness / 2 + 0.5 - np.sqrt(distance2.min(axis=1)), 0, 1)
    head[:, rows, cols] = np.clip(head_radius + 0.5 - np.sqrt((x - hx) ** 2 + (y - hy) ** 2), 0, 1)
    return limbs, head


def _window(coordinates: np.ndarray, low: float, high: float) -> slice:
    """The index range (a slice) along the last axis of ``coordinates`` (T, N) whose values fall in
    [low, high] in any frame."""
    inside = np.flatnonzero(((coordinates >= low) & (coordinates <= high)).any(axis=0))
    return slice(int(inside[0]), int(inside[-1]) + 1) if inside.size else slice(0, 0)


def render_frames(joints: np.ndarray, scene: Scene) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 RGB of the figure posed by ``joints`` (T, J, 2) in ``scene``."""
    x, y = pixel_grid(scene)
    limbs, head = figure_coverage(joints, scene, x, y)
    layers = background_layers(scene, x, y) + [(limbs, scene.body_color), (head, scene.head_color)]
    image = composite(layers, limbs.shape)
    if scene.noise_std > 0:  # grey sensor noise: one draw a pixel, the same on R, G and B
        noise = np.random.default_rng(scene.noise_seed).standard_normal(image.shape[:-1] + (1,), dtype=np.float32)
        image += scene.noise_std * noise
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
