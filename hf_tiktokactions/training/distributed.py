"""Which distributed strategy a training run gets, made to apply on CPU ranks too, and checked after the fact.

``accelerate launch --config_file training/accelerate_configs/fsdp_vit_g.yaml`` asks for FSDP through the environment
(``ACCELERATE_USE_FSDP=true`` and ``FSDP_*``) of every rank it starts. Accelerate 1.x only turns that into FSDP when
the ranks run on an accelerator (``AcceleratorState`` promotes ``MULTI_GPU``-like states to ``FSDP``); ranks built
with ``cpu=True`` become ``MULTI_CPU`` (DDP over gloo) and the request is silently dropped. FSDP2 itself
(``torch.distributed.fsdp.fully_shard``) runs on CPU ranks over gloo, so :func:`prepare_cpu_fsdp` lets Accelerate's
own promotion happen for them, and :func:`applied_strategy` reports (and :func:`require_requested_strategy`
enforces) what the prepared model really is: a run that asked for FSDP and did not get it stops with a
``ConfigError`` instead of training unsharded.
"""

from __future__ import annotations

import os
from collections import Counter

import torch
from accelerate import PartialState
from accelerate.utils import DistributedType

from ..errors import ConfigError

_FSDP_DOC = "docs/SCALING_OUT.md"


def fsdp_requested() -> bool:
    """True when the launcher (``accelerate launch`` with an FSDP config) or a plugin asked for FSDP."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def prepare_cpu_fsdp(version: int | str | None = None) -> None:
    """Before ``Accelerator(cpu=True)``: make Accelerate apply the requested FSDP to CPU ranks over gloo.

    Builds the process group (``PartialState(cpu=True)``: gloo), then presents it to ``AcceleratorState`` as a
    multi-device state, the only kind it promotes to FSDP (with the plugin from ``FSDP_*``). Only FSDP2 is offered
    on CPU: FSDP1 needs a device per rank (Accelerate stops it with "no available devices found"). ``version``: the
    plugin's, when one is passed to the Accelerator; else the launcher's ``FSDP_VERSION``.
    """
    version = str(version or os.environ.get("FSDP_VERSION", "1"))
    if version != "2":
        raise ConfigError(
            f"the launch config asks for FSDP version {version}, which needs GPUs; on CPU ranks set "
            "fsdp_version: 2 in its fsdp_config (or pass --fsdp_version 2 to accelerate launch)"
        )
    state = PartialState(cpu=True)
    if state.distributed_type != DistributedType.MULTI_CPU:
        raise ConfigError(
            "FSDP was requested (ACCELERATE_USE_FSDP=true) but this process was not started as a rank of a "
            "distributed run; start it with accelerate launch --config_file <an FSDP config> (or torchrun), "
            f"see {_FSDP_DOC}"
        )
    # Every PartialState (and AcceleratorState) instance shares one state, so this is what Accelerator() reads next.
    state.distributed_type = DistributedType.MULTI_GPU


def _local_numel(param: torch.Tensor) -> int:
    return param.to_local().numel() if hasattr(param, "to_local") else param.numel()  # a DTensor shard under FSDP2


def _sharded_units(model: torch.nn.Module) -> Counter:
    """Class names of the modules ``fully_shard`` made units of, besides the root (FSDP2 names them ``FSDP<cls>``)."""
    from torch.distributed.fsdp import FSDPModule

    return Counter(
        type(module).__name__.removeprefix("FSDP")
        for name, module in model.named_modules()
        if name and isinstance(module, FSDPModule)
    )


def _reshard(model: torch.nn.Module) -> None:
    """Free the gathered parameters a forward left (the root keeps them after an evaluation), so that every
    parameter is again this rank's shard."""
    from torch.distributed.fsdp import FSDPModule

    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()


def check_wrap_classes(accelerator, model: torch.nn.Module) -> None:
    """Before ``prepare``: every class the FSDP config names to shard by (``fsdp_transformer_layer_cls_to_wrap``)
    exists in ``model``; otherwise Accelerate would fail deep inside, or a run would be sharded in one piece."""
    if accelerator.distributed_type != DistributedType.FSDP:
        return
    plugin = accelerator.state.fsdp_plugin
    names = plugin.transformer_cls_names_to_wrap or []
    if isinstance(names, str):
        names = names.split(",")
    present = {type(module).__name__ for module in model.modules()}
    missing = [name for name in names if name not in present]
    if missing:
        raise ConfigError(
            f"the FSDP config shards by {', '.join(missing)}, a class {type(model).__name__} does not have; set "
            f"fsdp_transformer_layer_cls_to_wrap to VideoMAEv2Block (as training/accelerate_configs/fsdp_vit_g.yaml)"
        )


def applied_strategy(accelerator, model: torch.nn.Module) -> dict:
    """What the prepared ``model`` runs under, for ``run_config.json`` (a collective: every rank calls it).

    ``strategy`` in words (e.g. ``"fsdp2 (per VideoMAEv2Block), 2 ranks, gloo"``), the units ``fully_shard``
    made, and the parameters each rank holds (its local shard under FSDP, the whole model otherwise).
    """
    world, backend = accelerator.num_processes, accelerator.state.backend or "none"
    _reshard(model)
    local = torch.tensor([sum(_local_numel(p) for p in model.parameters())], device=accelerator.device)
    per_rank = accelerator.gather(local).tolist() if world > 1 else local.tolist()
    record = {
        "distributed_type": accelerator.distributed_type.value,
        "num_processes": world,
        "backend": backend,
        "parameters": sum(p.numel() for p in model.parameters()),
        "parameters_per_rank": per_rank,
    }
    if accelerator.distributed_type == DistributedType.FSDP:
        units = _sharded_units(model)
        plugin = accelerator.state.fsdp_plugin
        blocks = [name for name in units if name.startswith("VideoMAEv2Block")]
        wrapped = f"per {blocks[0]}" if blocks else "whole model in one unit"
        record.update(
            strategy=f"fsdp{plugin.fsdp_version} ({wrapped}), {world} ranks, {backend}",
            # Parameters left whole on every rank (not DTensor shards): FSDP neither shards nor synchronises them.
            unsharded_parameters=[name for name, p in model.named_parameters() if not hasattr(p, "to_local")],
            fsdp_version=plugin.fsdp_version,
            sharded_units=dict(units),
            state_dict_type=str(getattr(plugin.state_dict_type, "name", plugin.state_dict_type)),
        )
    elif world > 1:
        record["strategy"] = f"ddp (a full copy per rank), {world} ranks, {backend}"
    else:
        record["strategy"] = f"single process on {accelerator.device.type}"
    return record


def require_requested_strategy(strategy: dict) -> None:
    """Stop a run that asked for FSDP but whose model is not sharded (never a silent unsharded run)."""
    if not fsdp_requested():
        return
    if strategy["distributed_type"] != DistributedType.FSDP.value or not strategy.get("sharded_units"):
        raise ConfigError(
            f"the launch config asks for FSDP (ACCELERATE_USE_FSDP=true) but the model runs as {strategy['strategy']}; "
            f"launch with accelerate launch --config_file <an FSDP config> on GPUs or CPU ranks, see {_FSDP_DOC}"
        )
