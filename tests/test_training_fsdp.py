"""FSDP for real: the shipped ViT-g launch config shards the tiny model per VideoMAEv2Block on 2 CPU ranks over gloo
(``accelerate launch --config_file training/accelerate_configs/fsdp_vit_g.yaml --num_processes 2``), records it,
trains as DDP does, refuses configs it cannot apply, and resumes its sharded checkpoints exactly."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from hf_tiktokactions import VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification
from hf_tiktokactions.data.synthetic import make_synthetic_actions
from hf_tiktokactions.training.checkpointing import checkpoint_problem, completed_checkpoints

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "accelerate_configs"
FSDP_VIT_G = CONFIGS / "fsdp_vit_g.yaml"
ACCELERATE = str(Path(sys.executable).parent / "accelerate")
# The shipped ViT-g config with what a CPU test machine overrides: two ranks, full precision, a free port.
FSDP_ON_TWO_CPUS = [ACCELERATE, "launch", "--config_file", str(FSDP_VIT_G), "--num_processes", "2"]
FSDP_ON_TWO_CPUS += ["--mixed_precision", "no", "--main_process_port", "0"]
DDP_ON_TWO_CPUS = [ACCELERATE, "launch", "--config_file", str(CONFIGS / "cpu_two_processes.yaml")]
DDP_ON_TWO_CPUS += ["--main_process_port", "0"]
PRETRAIN = [
    str(ROOT / "training" / "pretrain.py"),
    "--config",
    str(ROOT / "training/configs/pretrain_tiny_synthetic.yaml"),
]
QUICK = ["--report_to", "none", "--disable_tqdm", "true", "--dataloader_num_workers", "0", "--logging_steps", "1"]


pytestmark = pytest.mark.distributed  # every test here starts ranks that talk to each other


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """28 real H.264 clips (7 actions x 4), 64x64, 16 frames."""
    return make_synthetic_actions(
        tmp_path_factory.mktemp("synthetic"), clips_per_class=4, size=64, num_frames=16, progress=False
    )


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def launch(launcher: list[str], *args, timeout: int = 600) -> subprocess.CompletedProcess:
    command = [*launcher, *PRETRAIN, *QUICK, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)


def final_weights(output: Path) -> dict[str, torch.Tensor]:
    return load_file(output / "final" / "model.safetensors")


def assert_same_weights(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=atol, rtol=0), (name, (a[name] - b[name]).abs().max().item())


def test_fsdp_config_shards_per_block_on_two_cpu_ranks_and_trains_as_ddp(synthetic, tmp_path):
    common = ["--data", synthetic, "--max_steps", 3, "--per_device_train_batch_size", 2, "--save_steps", 2]
    common += ["--reconstruction_steps", 2, "--gradient_checkpointing", "true"]
    fsdp = launch(FSDP_ON_TWO_CPUS, *common, "--output_dir", tmp_path / "fsdp")
    assert fsdp.returncode == 0, fsdp.stderr[-3000:]
    record = json.loads((tmp_path / "fsdp" / "run_config.json").read_text())["distributed"]
    assert record["strategy"] == "fsdp2 (per VideoMAEv2Block), 2 ranks, gloo"
    assert (
        record["sharded_units"]["VideoMAEv2Block"] == 6 and record["unsharded_parameters"] == []
    )  # vit-tiny: 2 encoder + 4 decoder blocks
    per_rank = record["parameters_per_rank"]
    assert len(per_rank) == 2 and sum(per_rank) == record["parameters"] and max(per_rank) < 0.51 * record["parameters"]
    # The checkpoints are torch.distributed.checkpoint shards, one file per rank, covered by the manifest.
    checkpoint = completed_checkpoints(tmp_path / "fsdp")[-1]
    assert not (checkpoint / "model.safetensors").exists()
    files = json.loads((checkpoint / "training_state.json").read_text())["files"]
    assert {"pytorch_model_fsdp_0/__0_0.distcp", "pytorch_model_fsdp_0/__1_0.distcp"} <= files.keys()
    assert {"optimizer_0/.metadata", "pytorch_model_fsdp_0/.metadata"} <= files.keys()
    assert checkpoint_problem(checkpoint) is None
    shard = checkpoint / "pytorch_model_fsdp_0" / "__1_0.distcp"
    shard.write_bytes(shard.read_bytes()[:-1])  # rank 1's shard truncated: this checkpoint is no longer resumed
    assert "pytorch_model_fsdp_0/__1_0.distcp has" in checkpoint_problem(checkpoint)
    assert (tmp_path / "fsdp" / "reconstructions" / "step-2.png").exists()

    ddp = launch(DDP_ON_TWO_CPUS, *common, "--output_dir", tmp_path / "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    ddp_record = json.loads((tmp_path / "ddp" / "run_config.json").read_text())["distributed"]
    assert ddp_record["strategy"] == "ddp (a full copy per rank), 2 ranks, gloo"
    assert ddp_record["parameters_per_rank"] == [record["parameters"]] * 2
    # Sharding changes where the parameters live, not the training: same weights after 3 steps.
    assert_same_weights(final_weights(tmp_path / "fsdp"), final_weights(tmp_path / "ddp"), atol=1e-5)
    model = VideoMAEv2ForPreTraining.from_pretrained(tmp_path / "fsdp" / "final")
    assert model.config.architectures == ["VideoMAEv2ForPreTraining"]


@pytest.mark.parametrize(
    "override, message",
    [
        (["--fsdp_transformer_layer_cls_to_wrap", "VideoMAEBlock"], "the FSDP config shards by VideoMAEBlock"),
        (["--fsdp_version", "1"], "the launch config asks for FSDP version 1, which needs GPUs"),
    ],
    ids=["unknown-block-class", "fsdp1-on-cpu"],
)
def test_an_fsdp_config_that_cannot_be_applied_stops_the_run(synthetic, tmp_path, override, message):
    launcher = [*FSDP_ON_TWO_CPUS[:2], *override, *FSDP_ON_TWO_CPUS[2:]]
    result = launch(launcher, "--data", synthetic, "--max_steps", 2, "--output_dir", tmp_path, timeout=300)
    assert result.returncode != 0
    # A rank ends with the one-line error (the launcher then stops the other one and reports with its own traceback).
    assert f"error: {message}" in result.stderr, result.stderr[-3000:]
    assert "[rank0]: Traceback" not in result.stderr and "[rank1]: Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "final").exists()


def test_sharded_checkpoint_resumes_exactly_after_the_process_group_is_killed(synthetic, tmp_path):
    common = ["--data", synthetic, "--max_steps", 6, "--per_device_train_batch_size", 2, "--reconstruction_steps", 0]
    straight = tmp_path / "straight"
    result = launch(FSDP_ON_TWO_CPUS, *common, "--save_steps", 100, "--output_dir", straight)
    assert result.returncode == 0, result.stderr[-3000:]

    interrupted = tmp_path / "interrupted"
    command = [*FSDP_ON_TWO_CPUS, *PRETRAIN, *QUICK, *map(str, common), "--save_steps", "3"]
    process = subprocess.Popen(
        [*command, "--output_dir", str(interrupted)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 400
    while not (interrupted / "checkpoints" / "step-3").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    # A machine failure: the launcher and both ranks (torchrun starts each rank in a session of its own) at once.
    ranks = psutil.Process(process.pid).children(recursive=True)
    for victim in [*ranks, psutil.Process(process.pid)]:
        victim.send_signal(signal.SIGKILL)
    process.wait()
    psutil.wait_procs(ranks, timeout=30)
    assert not any(rank.is_running() for rank in ranks)
    assert not (interrupted / "summary.json").exists(), "the run finished before it could be killed"
    assert [p.name for p in completed_checkpoints(interrupted)] == ["step-3"]

    result = launch(FSDP_ON_TWO_CPUS, *common, "--save_steps", 3, "--output_dir", interrupted, "--resume", "latest")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((interrupted / "run_config.json").read_text())["resumed_from"].endswith("step-3")
    assert_same_weights(final_weights(interrupted), final_weights(straight), atol=1e-6)
    # final/ is a consolidated folder one process loads.
    model = VideoMAEv2ForPreTraining.from_pretrained(interrupted / "final")
    assert sum(p.numel() for p in model.parameters()) == sum(t.numel() for t in final_weights(straight).values())


def test_finetuning_under_the_fsdp_config_shards_and_finishes_with_results(synthetic, tmp_path):
    command = [*FSDP_ON_TWO_CPUS, str(ROOT / "training" / "finetune.py")]
    command += ["--config", str(ROOT / "training" / "configs" / "finetune_tiny_synthetic.yaml")]
    command += ["--data_root", str(synthetic), "--output_dir", str(tmp_path), "--max_steps", "2"]
    # An evaluation before the end: the root unit keeps its gathered parameters after a forward.
    command += ["--eval_strategy", "steps", "--eval_steps", "2", "--disable_tqdm", "true"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=_env(), cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "run_config.json").read_text())["distributed"]
    assert record["strategy"] == "fsdp2 (per VideoMAEv2Block), 2 ranks, gloo"
    assert record["sharded_units"]["VideoMAEv2Block"] == 2 and record["unsharded_parameters"] == []
    assert sum(record["parameters_per_rank"]) == record["parameters"]
    assert max(record["parameters_per_rank"]) < 0.51 * record["parameters"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["num_processes"] == 2 and results["num_videos"] == 7
    model = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "final")  # gathered into one folder
    assert model.config.num_labels == 7


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("config", ["fsdp_vit_g_2x8.yaml", "multi_gpu_2x8.yaml"])
def test_two_node_configs_parse_with_placeholders_to_replace(config):
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = load_config_from_file(str(CONFIGS / config))
    assert (loaded.num_machines, loaded.num_processes, loaded.main_process_port) == (2, 16, 29500)
    assert loaded.main_process_ip == "MAIN_NODE_IP" and loaded.machine_rank == 0
    assert loaded.same_network and loaded.rdzv_backend == "static"


def test_two_node_fsdp_config_runs_with_both_machine_ranks_on_this_machine(synthetic, tmp_path):
    """The 2 x 8 GPU command on two "machines" of one CPU rank each, both on 127.0.0.1, sharing the output folder
    (as real machines share a file system: each rank writes its own checkpoint shard)."""
    port = _free_port()
    machines = []
    for rank in (0, 1):
        command = [ACCELERATE, "launch", "--config_file", str(CONFIGS / "fsdp_vit_g_2x8.yaml")]
        command += ["--num_processes", "2", "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1"]
        command += ["--main_process_port", str(port), "--mixed_precision", "no", *PRETRAIN, *QUICK]
        command += ["--data", str(synthetic), "--max_steps", "2", "--per_device_train_batch_size", "2"]
        command += ["--reconstruction_steps", "0", "--output_dir", str(tmp_path)]
        machines.append(
            subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    outputs = [machine.communicate(timeout=600)[0].decode(errors="replace") for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    record = json.loads((tmp_path / "run_config.json").read_text())["distributed"]
    assert record["strategy"] == "fsdp2 (per VideoMAEv2Block), 2 ranks, gloo"
    assert checkpoint_problem(completed_checkpoints(tmp_path)[-1]) is None  # both ranks' shards in the manifest
    assert VideoMAEv2ForPreTraining.from_pretrained(tmp_path / "final").config.num_frames == 4
