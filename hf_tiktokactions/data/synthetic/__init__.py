"""The embedded synthetic action set: small real H.264 clips of stick figures doing seven actions.

``make_synthetic_actions(out_dir)`` (or ``python -m hf_tiktokactions.data.synthetic OUT_DIR``)
writes::

    OUT_DIR/{train,val,test}/{action}/{action}_{index:04d}.mp4   H.264, yuv420p, size x size, fps
    OUT_DIR/metadata.jsonl      one row a clip: path, label, split, seed, frames, fps, size, side, ...
    OUT_DIR/synthetic_config.json   the options the set was made with (checked when resuming)
    OUT_DIR/summary.json        counts and timing of the last run

``load_videofolder(OUT_DIR)`` reads it as train / validation / test.

Actions: clap, jump, kick, sit_down, spin, stand_up, wave. ``stand_up`` is ``sit_down`` played
backwards, so telling them apart needs temporal order; half of the clips of every action are
mirrored (``side`` -1), so no class depends on left/right and horizontal-flip augmentation is safe.
Colours, sizes, positions, backgrounds, speeds, camera shake and noise are drawn per clip from a
seed derived from (seed, action, clip index) alone: the rendered frames are deterministic for a
seed (the H.264 bytes nearly always are too; see ``generate.write_mp4``), and a clip's content
does not depend on how many clips or which other actions are made.

A clip file is written under a temporary name and renamed when complete, so an interrupted run
can be resumed: complete clips are skipped.

Modules: ``poses`` (skeleton and actions as joint trajectories), ``render`` (vectorised drawing),
``generate`` (sampling, encoding, layout), ``__main__`` (the command line).
"""

from hf_tiktokactions.data.synthetic.generate import (
    DEFAULT_ACTIONS,
    METADATA_FILE,
    SUMMARY_FILE,
    ClipSpec,
    SyntheticActionsConfig,
    clip_seed,
    make_synthetic_actions,
    plan_clips,
    render_clip,
    sample_clip,
    write_mp4,
)
from hf_tiktokactions.data.synthetic.poses import ACTIONS, Motion, action_poses
from hf_tiktokactions.data.synthetic.render import Scene, render_frames

__all__ = [
    "ACTIONS",
    "DEFAULT_ACTIONS",
    "METADATA_FILE",
    "SUMMARY_FILE",
    "ClipSpec",
    "Motion",
    "Scene",
    "SyntheticActionsConfig",
    "action_poses",
    "clip_seed",
    "make_synthetic_actions",
    "plan_clips",
    "render_clip",
    "render_frames",
    "sample_clip",
    "write_mp4",
]
