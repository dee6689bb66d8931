"""Stick-figure skeletons and the actions of the synthetic action set, as joint trajectories.

A pose is a (J, 2) array of joint positions in body units (x to the figure's +x side, y up, the
standing figure about 0.95 tall with its lowest foot at y = 0). An action turns a :class:`Motion`
(speed, phase, timing, amplitude: the per-clip randomness) into (T, J, 2) trajectories.

Left and right: every action is written for one side (the raised hand of ``wave`` is at +x, ``kick``
and the sitting figure face +x). The renderer mirrors the whole scene for half of the clips (its
``side``), so no class depends on left/right and a horizontal flip maps a clip onto a clip of the
same class. ``stand_up`` is ``sit_down`` played backwards, frame for frame, so the two differ only
in temporal order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

JOINTS = (
    "head", "neck", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "hand_l", "hand_r",
    "pelvis", "hip_l", "hip_r", "knee_l", "knee_r", "foot_l", "foot_r",
)  # fmt: skip
J = {name: i for i, name in enumerate(JOINTS)}
# Limbs drawn as thick line segments; the head is drawn as a disc around "head".
SEGMENTS = np.array(
    [
        (J[a], J[b])
        for a, b in [
            ("neck", "pelvis"), ("shoulder_l", "shoulder_r"), ("hip_l", "hip_r"),
            ("shoulder_l", "elbow_l"), ("elbow_l", "hand_l"), ("shoulder_r", "elbow_r"), ("elbow_r", "hand_r"),
            ("hip_l", "knee_l"), ("knee_l", "foot_l"), ("hip_r", "knee_r"), ("knee_r", "foot_r"),
        ]
    ]
)  # fmt: skip
HEAD_RADIUS = 0.075

# Body proportions (body units).
TORSO, NECK = 0.30, 0.10
SHOULDER_HALF, HIP_HALF = 0.07, 0.05
UPPER_ARM, FOREARM = 0.15, 0.14
THIGH, SHIN = 0.23, 0.23


@dataclass(frozen=True)
class Motion:
    """Per-clip motion randomness, shared by all actions (so one draw can be played as any action).

    speed: multiplies the number of movement cycles in the clip (periodic actions).
    phase: where in its cycle the movement starts, in [0, 1).
    onset: where the one-off transition (sit down) starts, as a fraction of the free time, [0, 1].
    duration: length of the one-off transition as a fraction of the clip.
    amplitude: multiplies the size of the movement.
    """

    speed: float = 1.0
    phase: float = 0.0
    onset: float = 0.5
    duration: float = 0.5
    amplitude: float = 1.0


def direction(angle: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) for angles measured from straight down, positive towards +x."""
    return np.stack([np.sin(angle), -np.cos(angle)], axis=-1)


def skeleton(
    torso: np.ndarray,
    arms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    legs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    lift: np.ndarray | float = 0.0,
    width: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Forward kinematics: segment angles (each (T,), from straight down, + towards +x) -> joints (T, J, 2).

    torso: lean of the torso from upright, + towards +x.

    arms: (upper_l, fore_l, upper_r, fore_r); legs: (thigh_l, shin_l, thigh_r, shin_r).
    lift: height of the lowest foot above the ground (T,) (jumps); the figure otherwise stands on it.
    width: factor (T,) on every x offset from the body's vertical axis (a spin about that axis).
    """
    T = len(torso)
    joints = np.zeros((T, len(JOINTS), 2))
    up = np.stack([np.sin(torso), np.cos(torso)], axis=-1)  # from the pelvis; torso > 0 leans towards +x
    right = np.stack([np.cos(torso), -np.sin(torso)], axis=-1)  # across the body, towards +x
    joints[:, J["neck"]] = TORSO * up
    joints[:, J["head"]] = (TORSO + NECK) * up
    joints[:, J["shoulder_l"]] = joints[:, J["neck"]] - SHOULDER_HALF * right
    joints[:, J["shoulder_r"]] = joints[:, J["neck"]] + SHOULDER_HALF * right
    joints[:, J["hip_l"]] = -HIP_HALF * right
    joints[:, J["hip_r"]] = HIP_HALF * right
    upper_l, fore_l, upper_r, fore_r = arms
    joints[:, J["elbow_l"]] = joints[:, J["shoulder_l"]] + UPPER_ARM * direction(upper_l)
    joints[:, J["hand_l"]] = joints[:, J["elbow_l"]] + FOREARM * direction(fore_l)
    joints[:, J["elbow_r"]] = joints[:, J["shoulder_r"]] + UPPER_ARM * direction(upper_r)
    joints[:, J["hand_r"]] = joints[:, J["elbow_r"]] + FOREARM * direction(fore_r)
    thigh_l, shin_l, thigh_r, shin_r = legs
    joints[:, J["knee_l"]] = joints[:, J["hip_l"]] + THIGH * direction(thigh_l)
    joints[:, J["foot_l"]] = joints[:, J["knee_l"]] + SHIN * direction(shin_l)
    joints[:, J["knee_r"]] = joints[:, J["hip_r"]] + THIGH * direction(thigh_r)
    joints[:, J["foot_r"]] = joints[:, J["knee_r"]] + SHIN * direction(shin_r)

    joints[..., 0] *= np.broadcast_to(np.asarray(width, dtype=float), (T,))[:, None]
    lowest_foot = np.minimum(joints[:, J["foot_l"], 1], joints[:, J["foot_r"], 1])
    joints[..., 1] += (np.broadcast_to(np.asarray(lift, dtype=float), (T,)) - lowest_foot)[:, None]
    return joints


def _rest(T: int) -> dict[str, np.ndarray]:
    """Angles (each (T,)) of a figure standing with arms and legs slightly apart."""
    full = lambda value: np.full(T, value, dtype=float)  # noqa: E731
    return {
        "torso": full(0.0),
        "upper_l": full(-0.25), "fore_l": full(-0.12), "upper_r": full(0.25), "fore_r": full(0.12),
        "thigh_l": full(-0.08), "shin_l": full(-0.04), "thigh_r": full(0.08), "shin_r": full(0.04),
    }  # fmt: skip


def _pose(angles: dict[str, np.ndarray], lift=0.0, width=1.0) -> np.ndarray:
    a = angles
    return skeleton(
        a["torso"],
        (a["upper_l"], a["fore_l"], a["upper_r"], a["fore_r"]),
        (a["thigh_l"], a["shin_l"], a["thigh_r"], a["shin_r"]),
        lift=lift,
        width=width,
    )


def _cycle(T: int, motion: Motion, cycles_per_clip: float) -> np.ndarray:
    """Phase angle (T,) of a periodic movement: ``cycles_per_clip * speed`` full turns over the clip."""
    t = np.arange(T) / T
    return 2 * np.pi * (cycles_per_clip * motion.speed * t + motion.phase)


def wave(T: int, motion: Motion) -> np.ndarray:
    """The +x arm raised, its forearm swinging side to side above the elbow."""
    a = _rest(T)
    swing = np.sin(_cycle(T, motion, 3.0))
    a["upper_r"][:] = 2.45
    a["fore_r"] = np.pi - 0.1 + 0.6 * motion.amplitude * swing
    return _pose(a)


def clap(T: int, motion: Motion) -> np.ndarray:
    """Hands raised in front of the chest, clapping together at the body's axis and apart again."""
    a = _rest(T)
    closed = 0.5 * (1 - np.cos(_cycle(T, motion, 3.0)))  # 0 = hands apart, 1 = hands together
    a["upper_r"] = 0.9 - 0.5 * closed
    # The forearm swings over the top, from up-and-out (pi - 0.6) to up-and-in, where the hand
    # reaches x = 0 from the elbow at x = SHOULDER_HALF + UPPER_ARM * sin(0.4).
    a["fore_r"] = np.pi - 0.6 + 1.75 * closed
    a["upper_l"], a["fore_l"] = -a["upper_r"], -a["fore_r"]
    return _pose(a)


def jump(T: int, motion: Motion) -> np.ndarray:
    """Hops on the spot: crouch, take off with the arms swinging up, land."""
    a = _rest(T)
    wave_ = np.sin(_cycle(T, motion, 2.0))
    air, crouch = np.maximum(wave_, 0), np.maximum(-wave_, 0)
    for sign, side in ((-1, "l"), (1, "r")):
        a[f"thigh_{side}"] = sign * (0.08 + 0.55 * crouch)
        a[f"shin_{side}"] = sign * (0.04 - 0.55 * crouch)
        a[f"upper_{side}"] = sign * (0.25 + 2.2 * air)
        a[f"fore_{side}"] = sign * (0.12 + 2.4 * air)
    return _pose(a, lift=0.22 * motion.amplitude * air)


def spin(T: int, motion: Motion) -> np.ndarray:
    """Turns about the vertical axis with the arms held out: the projected width goes as cos(angle)."""
    a = _rest(T)
    a["upper_l"][:], a["fore_l"][:] = -1.45, -1.5
    a["upper_r"][:], a["fore_r"][:] = 1.45, 1.5
    return _pose(a, width=np.cos(_cycle(T, motion, 1.5)))


def kick(T: int, motion: Motion) -> np.ndarray:
    """Facing +x: the +x leg kicks forward and up, the arms swing back for balance."""
    a = _rest(T)
    k = np.maximum(np.sin(_cycle(T, motion, 2.0)), 0) ** 2
    a["thigh_r"] = 0.08 + 1.35 * motion.amplitude * k
    a["shin_r"] = 0.04 + 1.45 * motion.amplitude * k
    a["torso"] = -0.18 * k
    a["upper_l"] = -0.25 - 0.7 * k
    a["upper_r"] = 0.25 - 0.9 * k
    return _pose(a)


def sit_down(T: int, motion: Motion) -> np.ndarray:
    """Facing +x: from standing to sitting (thighs horizontal, shins vertical), leaning forward on the way."""
    a = _rest(T)
    t = np.arange(T) / max(T - 1, 1)
    start = motion.onset * (1 - motion.duration)
    x = np.clip((t - start) / motion.duration, 0, 1)
    progress = x * x * (3 - 2 * x)  # smoothstep: 0 standing, 1 seated
    lean = np.sin(np.pi * progress)
    for offset, side in ((-0.06, "l"), (0.06, "r")):
        a[f"thigh_{side}"] = offset + 1.5 * progress
        a[f"shin_{side}"] = offset * (1 - progress)
        a[f"upper_{side}"] = 0.2 + offset + 0.9 * lean + 0.3 * progress
        a[f"fore_{side}"] = 0.2 + offset + 1.1 * lean + 0.5 * progress
    a["torso"] = 0.45 * lean + 0.1 * progress
    return _pose(a)


def stand_up(T: int, motion: Motion) -> np.ndarray:
    """``sit_down`` played backwards: the same poses in reverse temporal order."""
    return sit_down(T, motion)[::-1].copy()


ACTIONS: dict[str, Callable[[int, Motion], np.ndarray]] = {
    "clap": clap,
    "jump": jump,
    "kick": kick,
    "sit_down": sit_down,
    "spin": spin,
    "stand_up": stand_up,
    "wave": wave,
}


def action_poses(action: str, num_frames: int, motion: Motion) -> np.ndarray:
    """Joint trajectories (num_frames, J, 2) of ``action`` under ``motion``."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return ACTIONS[action](num_frames, motion)
