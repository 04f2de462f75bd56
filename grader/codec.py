"""Nested values <-> flat `.npz` files, the only thing that crosses the sandbox.

A value is a tree of dicts (string keys), lists, tuples, and leaves: numpy arrays
of numeric, bool or string dtype, Python numbers, bools, strings and None. The
tree's shape travels as JSON; every array leaf travels in the `.npz`, which the
reader opens with `allow_pickle=False`, so nothing a child writes can run code in
the grader.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

STRUCTURE_KEY = "__structure__"
ALLOWED_KINDS = set("biufcUS")  # bool, ints, floats, complex, unicode, bytes


class CodecError(ValueError):
    """A value cannot be encoded, or a file is not a value this codec wrote."""


def _encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        arr = np.array(value)  # subok=False: an ndarray subclass travels as a plain array
        if arr.dtype.kind not in ALLOWED_KINDS:
            raise CodecError(f"{path or 'value'}: arrays of dtype {arr.dtype} cannot be returned")
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(arr)
        return {"array": key}
    if value is None or isinstance(value, (bool, str)):
        return {"value": value}
    if isinstance(value, int):
        return {"value": value}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"value": value}
        return {"float": repr(value)}
    if isinstance(value, dict):
        items = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CodecError(f"{path or 'value'}: dict keys must be strings, got {type(k).__name__}")
            items[k] = _encode(v, f"{path}.{k}" if path else k, arrays)
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(v, f"{path}[{i}]", arrays) for i, v in enumerate(value)]}
    raise CodecError(f"{path or 'value'}: values of type {type(value).__name__} cannot be returned")


def _decode(node: Any, arrays: Any) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        raise CodecError("malformed structure")
    (kind, payload), = node.items()
    if kind == "array":
        return arrays[payload]
    if kind == "value":
        if payload is not None and not isinstance(payload, (bool, int, float, str)):
            raise CodecError("malformed structure")
        return payload
    if kind == "float":
        return float(payload)
    if kind == "dict":
        return {str(k): _decode(v, arrays) for k, v in payload.items()}
    if kind == "list":
        return [_decode(v, arrays) for v in payload]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in payload)
    raise CodecError(f"malformed structure: unknown node {kind!r}")


def dumps(value: Any) -> bytes:
    """Encode a value as the bytes of an uncompressed `.npz` file (deterministic)."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(value, "", arrays)
    buf = io.BytesIO()
    # Written entry by entry with a fixed timestamp so that equal values give equal bytes.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        entries = {STRUCTURE_KEY: np.array(json.dumps(structure, sort_keys=True))}
        entries.update(arrays)
        for name in sorted(entries):
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            payload = io.BytesIO()
            np.lib.format.write_array(payload, entries[name], allow_pickle=False)
            zf.writestr(info, payload.getvalue())
    return buf.getvalue()


def dump(value: Any, path: Path) -> None:
    path.write_bytes(dumps(value))


def load(path: Path, max_bytes: int | None = None) -> Any:
    """Read a value written by `dump`; never unpickles."""
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise CodecError(f"{path.name} is {path.stat().st_size} bytes, over the {max_bytes}-byte limit")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CodecError(f"{path.name} is not a readable .npz without pickles: {exc}") from exc
    if STRUCTURE_KEY not in arrays:
        raise CodecError(f"{path.name} has no structure entry")
    try:
        structure = json.loads(str(arrays.pop(STRUCTURE_KEY)))
    except json.JSONDecodeError as exc:
        raise CodecError(f"{path.name}: structure is not JSON") from exc
    try:
        return _decode(structure, arrays)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CodecError(f"{path.name}: malformed structure ({exc})") from exc


def load_saved_arrays(path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Arrays a notebook saved with np.savez: checked for size before reading, never unpickled."""
    if path.stat().st_size > max_bytes:
        raise CodecError(f"{path.name} is over the {max_bytes // 2**20} MB limit")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(i.file_size for i in zf.infolist()) > max_bytes:
                raise CodecError(f"{path.name} unpacks to more than {max_bytes // 2**20} MB")
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    arr = np.lib.format.read_array(f, allow_pickle=False)
                if arr.dtype.kind not in "biuf":
                    raise CodecError(f"{path.name}: {info.filename[:-4]} has dtype {arr.dtype}; expected numbers")
                arrays[info.filename[:-4]] = arr
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CodecError(f"{path.name} is not a readable .npz without pickles: {exc}") from exc
    return arrays
