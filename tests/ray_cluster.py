"""A real multi-node Ray cluster on this machine for tests: a head and worker nodes started with ``ray start``.

Every node runs in its own temporary folder on free ports, with token authentication on (a random
token per cluster, passed as ``RAY_AUTH_TOKEN``, so ``~/.ray`` is neither read nor written). Each
process a node starts inherits a marker in its environment; :meth:`LocalRayCluster.kill_node` and
:meth:`LocalRayCluster.stop` find the processes by that marker and signal them by pid. ``ray stop``
is never used: it stops every Ray process of the user on the machine, other tests' clusters included.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
MARKER = "HF_TIKTOKACTIONS_TEST_RAY_NODE"
START_ATTEMPTS = 3  # `ray start` gives a node 30 s (not configurable) to register; a loaded machine can miss that


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(marker_value: str) -> list[int]:
    """PIDs of this user's processes whose environment holds ``MARKER=<marker_value>``."""
    needle = f"{MARKER}={marker_value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:  # gone, or another user's
            continue
    return pids


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class LocalRayCluster:
    """Start with :meth:`start_head`, add nodes with :meth:`add_worker`; always :meth:`stop` (a context manager)."""

    def __init__(self) -> None:
        # Short root: Ray's unix socket paths (<temp>/session_<date>_<pid>/sockets/...) must stay under 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))
        self.cluster_id = secrets.token_hex(4)
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.address: str | None = None
        self.nodes: list[str] = []

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self, name: str, arguments: list[str], num_gpus: int = 0) -> None:
        temp_dir = self.root / name
        command = [
            RAY,
            "start",
            f"--temp-dir={temp_dir}",
            "--num-cpus=1",
            f"--num-gpus={num_gpus}",  # declared: Ray schedules on it whether or not a GPU is there
            "--object-store-memory=80000000",
            "--disable-usage-stats",
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            *arguments,
        ]
        env = {**self.env, MARKER: f"{self.cluster_id}-{name}"}
        for _attempt in range(START_ATTEMPTS):
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
            if result.returncode == 0:
                self.nodes.append(name)
                return
            self.kill_node(name)  # what the failed start left running
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise RuntimeError(f"`ray start` for {name} failed {START_ATTEMPTS} times:\n{result.stdout}\n{result.stderr}")

    def start_head(self) -> str:
        """Start the head node (1 CPU); returns its address ``127.0.0.1:PORT``."""
        port = free_port()
        self._start(
            "head",
            [
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                f"--ray-client-server-port={free_port()}",
                "--include-dashboard=false",
            ],
        )
        self.address = f"127.0.0.1:{port}"
        return self.address

    def add_worker(self, name: str, num_gpus: int = 0) -> None:
        """Start a worker node (1 CPU, ``num_gpus`` GPUs declared) that joins the head."""
        self._start(name, [f"--address={self.address}", "--node-ip-address=127.0.0.1"], num_gpus)

    def node_id(self, name: str) -> str:
        """Ray's id of node ``name`` (from its raylet's command line)."""
        for pid in self.node_pids(name):
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if Path(arguments[0]).name == "raylet":
                return next(a.split("=", 1)[1] for a in arguments if a.startswith("--node_id="))
        raise RuntimeError(f"node {name} has no raylet running")

    def node_pids(self, name: str) -> list[int]:
        """PIDs of every process node ``name`` started (raylet, agents, Ray workers)."""
        return _processes_with(f"{self.cluster_id}-{name}")

    def kill_node(self, name: str) -> list[int]:
        """SIGKILL every process of node ``name`` (a machine that drops off the cluster)."""
        pids = self.node_pids(name)
        _signal_all(pids, signal.SIGKILL)
        if name in self.nodes:
            self.nodes.remove(name)
        return pids

    def stop(self) -> None:
        """SIGTERM every node's processes (workers first, the head last), SIGKILL what is left after 10 s."""
        names = [n for n in self.nodes if n != "head"] + [n for n in self.nodes if n == "head"]
        for name in names:
            _signal_all(self.node_pids(name), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(self.node_pids(n) for n in names):
            time.sleep(0.2)
        for name in names:
            self.kill_node(name)
        self.nodes.clear()
        shutil.rmtree(self.root, ignore_errors=True)
