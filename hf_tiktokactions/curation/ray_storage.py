"""Fail fast when a node of a Ray cluster does not see the curation's files.

On a cluster, a video task runs on any node: it reads the original at its ``source_path`` and writes
``DIR/clips/<video_id>.mp4`` there, while the driver writes ``DIR/metadata`` and ``DIR/index``. So the
inputs and ``DIR`` must be on storage every node mounts at the same path. A node that does not see the
original rejects the video as "file not found" (a verdict a rerun keeps); a node that does not see
``DIR`` writes the clip onto its own disk, where the index points at nothing. Both are caught before
any work by asking each node whether it sees a file the driver has just written into ``DIR`` and the
first input video.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import ConfigError

logger = logging.getLogger(__name__)
ANSWER_TIMEOUT_S = 300.0  # a node starting its first worker process on a loaded machine takes a while


def _sees(paths: list[str]) -> list[str]:
    """The ``paths`` this node cannot read."""
    return [path for path in paths if not os.access(path, os.R_OK)]


def _node_name(node: dict[str, Any]) -> str:
    return f"{node.get('NodeManagerHostname') or node['NodeManagerAddress']} (node {node['NodeID'][:12]})"


def nodes_missing(ray, paths: list[str]) -> dict[str, list[str]]:
    """For each alive node with CPUs (those that run video tasks) that cannot read one of ``paths``: those paths.

    A node that dies before it answers is left out (it gets no work either).
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0, max_retries=0)(_sees)
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
    refs = {
        probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(paths): n
        for n in nodes
    }
    ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=ANSWER_TIMEOUT_S)
    missing = {}
    for ref in ready:
        try:
            unreadable = ray.get(ref)
        except ray.exceptions.RayError as error:
            logger.warning("Ray node %s did not answer the storage check: %s", _node_name(refs[ref]), error)
            continue
        if unreadable:
            missing[_node_name(refs[ref])] = unreadable
    for ref in late:
        logger.warning("Ray node %s did not answer the storage check in time", _node_name(refs[ref]))
    return missing


def check_nodes_see(ray, output: Path, first_input: str | None) -> None:
    """Raise ``ConfigError`` naming the nodes that cannot read ``output`` or ``first_input`` (see the module docstring).

    ``first_input`` counts only if this process can read it (a missing video is that video's verdict, not the run's).
    """
    marker = (output / f".ray_storage_check.{secrets.token_hex(4)}").resolve()
    marker.write_text("every node must see this file\n", encoding="utf-8")
    paths = [str(marker)] + ([first_input] if first_input and os.access(first_input, os.R_OK) else [])
    try:
        missing = nodes_missing(ray, paths)
    finally:
        marker.unlink(missing_ok=True)
    if missing:
        names = {str(marker): f"--output-dir {output.resolve()}"}
        what = "; ".join(
            f"{node} cannot read {', '.join(names.get(p, p) for p in paths)}" for node, paths in missing.items()
        )
        raise ConfigError(
            f"--engine ray: {what}. --output-dir and the input videos must be on storage every node "
            "mounts at the same path (NFS, a cluster filesystem); see docs/SCALING_OUT.md"
        )
