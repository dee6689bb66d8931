"""Read checkpoint files someone else wrote without running anything from them.

Pickles (``.pth``) go through ``torch.load(weights_only=True)`` with a minimal allow-list: ``argparse.Namespace``
and the numpy pieces that official training scripts leave in their saved ``args`` (a protocol-2 pickle written
with numpy 1.x names ``numpy.dtype``, ``numpy.core.multiarray.scalar``, ``__builtin__.set`` and ``_codecs.encode``;
torch maps the last two to ``builtins.set`` and the bytes helper it already allows). Zip-format files are
memory-mapped, so a 14 GB checkpoint is paged in tensor by tensor instead of being read whole; legacy (pre-zip)
pickles cannot be mapped and are read into memory once.

Every failure is one :class:`CheckpointError` naming the file, never torch's advice to retry with
``weights_only=False``.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..errors import CheckpointError

# A tensor may claim at most this many bytes more than the whole file holds (legacy pickles store a little framing).
_MAX_CLAIM_OVER_FILE = 1 << 20


def numpy_safe_globals() -> list:
    """The numpy callables a numpy 1.x ``args`` pickle needs, under both numpy 1.x and 2.x module names.

    ``scalar(dtype, bytes)`` only reinterprets bytes as one number and ``dtype(code, align, copy)`` only names a
    type; the dtype classes are listed so that the pickle's BUILD step may set a dtype's byte order.
    """
    try:
        import numpy as np
    except ImportError:  # numpy is optional for torch; without it such files cannot hold numpy values anyway
        return []
    multiarray = getattr(np, "_core", None) or np.core
    scalar = multiarray.multiarray.scalar
    numeric = [
        "Bool",
        "Int8",
        "Int16",
        "Int32",
        "Int64",
        "UInt8",
        "UInt16",
        "UInt32",
        "UInt64",
        "Float16",
        "Float32",
        "Float64",
        "LongLong",
        "ULongLong",
        "Long",
        "ULong",
    ]
    dtype_classes = [getattr(np.dtypes, f"{name}DType") for name in numeric if hasattr(np.dtypes, f"{name}DType")]
    return [
        np.dtype,
        *dtype_classes,
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
    ]


_TORCH_ADVICE = ("Weights only load failed", "Check the documentation", "(1)", "(2)")


def _reason(error: BaseException) -> str:
    """torch's message as one sentence, without its advice to load with ``weights_only=False``."""
    text = str(error).replace("WeightsUnpickler error:", "\n")
    lines = [line.strip() for line in text.splitlines()]
    details = [line for line in lines if line and "weights_only" not in line and not line.startswith(_TORCH_ADVICE)]
    detail = details[0].split(" Please use `torch.serialization")[0] if details else type(error).__name__
    detail = detail.split(". ")[0].rstrip(".")[:300]
    if "GLOBAL" in detail or "reduce" in detail or detail.startswith("Can only"):
        return f"it asks to run code, not only to hold data ({detail}); refused"
    if "Weights only load failed" in text:
        return f"not a torch checkpoint ({detail})"
    return detail


def _claimed_bytes_fit(path: Path) -> None:
    """Refuse a pickle whose tensors claim more bytes than the file holds, before anything is allocated."""
    size = path.stat().st_size
    claims: dict[str, int] = {}  # storage key -> bytes; tensors sharing a storage name it once each

    def persistent_load(record):
        # ('storage', storage_type, key, location, numel[, view]) as torch.save writes it
        if isinstance(record, tuple) and len(record) >= 5 and isinstance(record[4], int):
            claims[str(record[2])] = record[4] * getattr(record[1], "itemsize", 1)
        return None

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
                if name is None:
                    raise CheckpointError(
                        f"cannot read checkpoint {path}: a zip file without data.pkl (not torch.save)"
                    )
                with archive.open(name) as handle:
                    _ScanUnpickler(handle, persistent_load).load()
        else:  # legacy format: magic number, protocol, system info, then the pickle that names the storages
            with path.open("rb") as handle:
                for _ in range(4):
                    _ScanUnpickler(handle, persistent_load).load()
    except CheckpointError:
        raise
    except Exception:
        return  # not a well-formed pickle: the real loader says what is wrong with it
    claimed = sum(claims.values())
    if claimed > size + _MAX_CLAIM_OVER_FILE:
        raise CheckpointError(
            f"cannot read checkpoint {path}: its tensors claim {claimed / 1e9:.1f} GB but the file holds "
            f"{size / 1e9:.1f} GB (truncated or forged)"
        )


class _ScanUnpickler(pickle.Unpickler):
    """Walks a torch pickle to add up the storage sizes it declares; every global is a stand-in, nothing runs."""

    def __init__(self, handle, persistent_load) -> None:
        super().__init__(handle)
        self._persistent = persistent_load

    def persistent_load(self, pid):
        return self._persistent(pid)

    def find_class(self, module: str, name: str):
        if module == "torch" and name.endswith("Storage") and isinstance(getattr(torch, name, None), type):
            return _StorageName(getattr(torch, name))
        return _Inert


class _Inert:
    """Stands for any global: accepts every call, item and state, and does nothing."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        pass

    def __setitem__(self, key, value) -> None:
        pass

    def append(self, value) -> None:
        pass

    def extend(self, values) -> None:
        pass


class _StorageName(_Inert):
    """A ``torch.*Storage`` class named in the pickle, reduced to its element size (never instantiated)."""

    def __init__(self, storage_class: type) -> None:
        with warnings.catch_warnings():  # TypedStorage classes warn that they are deprecated
            warnings.simplefilter("ignore")
            dtype = getattr(storage_class, "dtype", torch.uint8)
        self.itemsize = dtype.itemsize if isinstance(dtype, torch.dtype) else 1

    def __call__(self, *args, **kwargs) -> _Inert:
        return _Inert()


def load_torch_pickle(path: Path) -> object:
    """``torch.load`` of an untrusted ``.pth`` file: tensors, containers, numbers, strings, ``argparse.Namespace``
    and numpy scalars only; memory-mapped when the file is in torch's zip format."""
    _claimed_bytes_fit(path)
    mappable = zipfile.is_zipfile(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace, *numpy_safe_globals()]):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mappable)
    except Exception as error:  # whatever an untrusted file makes the unpickler raise (IndexError on text, ...)
        raise CheckpointError(f"cannot read checkpoint {path}: {_reason(error)}") from None


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``.safetensors`` file (its header is validated against the file size by safetensors itself)."""
    try:
        return load_file(str(path))
    except (OSError, SafetensorError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {_reason(error)}") from None
