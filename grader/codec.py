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

from grader import parsing

STRUCTURE_KEY = "__structure__"
ALLOWED_KINDS = set("biufcUS")  # bool, ints, floats, complex, unicode, bytes
MAX_MEMBERS = 10_000
MAX_HEADER = 10_000
REQUEST_KEY, INPUTS_KEY = "request", "inputs"  # of a request's value (`dump_request`)


class CodecError(ValueError):
    """A value cannot be encoded, or a file is not a value this codec wrote."""


def _encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
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
    ((kind, payload),) = node.items()
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


def dump_request(path: Path, request: dict[str, Any], inputs: Any) -> None:
    """A child's request in one file: what to call (module, qualname, probe, params) as JSON text, as
    the child reads it, and the inputs, never anything expected.

    One file, not a folder of two: a grade serves hundreds of requests, and on a file system without a
    journal (ext4 on many virtual machines) each new inode costs the more, the more were deleted in the
    last half minute; the grader's own files were a fifth of a test run's CPU time there."""
    dump({REQUEST_KEY: json.dumps(request), INPUTS_KEY: inputs}, path)


def load_request(path: Path) -> tuple[dict[str, Any], Any]:
    """What `dump_request` wrote: the request and the inputs."""
    message = load(path)
    return json.loads(message[REQUEST_KEY]), message[INPUTS_KEY]


def load(path: Path, max_bytes: int | None = None) -> Any:
    """Read a value written by `dump` (the grader's own fixtures, or a request in the child)."""
    data = path.read_bytes()
    if max_bytes is not None and len(data) > max_bytes:
        raise CodecError(f"{path.name} is {len(data)} bytes, over the {max_bytes}-byte limit")
    return loads(data, max_bytes if max_bytes is not None else max(len(data) * 4, 1 << 30), path.name)


def loads(data: bytes, max_bytes: int, name: str = "reply") -> Any:
    """A value from the bytes of a `.npz` that untrusted code may have written: never unpickles, and
    allocates at most max_bytes for the arrays, whatever the archive or the array headers claim."""
    arrays = read_npz_arrays(data, max_bytes, name, kinds=ALLOWED_KINDS)
    if STRUCTURE_KEY not in arrays:
        raise CodecError(f"{name} has no structure entry")
    try:
        structure = json.loads(str(arrays.pop(STRUCTURE_KEY)))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CodecError(f"{name}: structure is not JSON") from exc
    try:
        return _decode(structure, arrays)
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise CodecError(f"{name}: malformed structure ({exc})") from exc


def read_npz_arrays(data: bytes, max_bytes: int, name: str, kinds: set[str]) -> dict[str, np.ndarray]:
    """Every `.npy` member of a zip archive, each header checked before anything is allocated."""
    arrays: dict[str, np.ndarray] = {}
    budget = max_bytes
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise CodecError(f"{name} holds {len(members)} arrays, more than {MAX_MEMBERS}")
            for info in members:
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[:-4]
                with zf.open(info) as f:
                    arr = _read_npy(f, budget, f"{name}: {key}", kinds)
                budget -= arr.nbytes
                arrays[key] = arr
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"{name} is not a readable .npz without pickles: {exc}") from exc
    return arrays


def _read_npy(f: Any, budget: int, name: str, kinds: set[str]) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        read_header = np.lib.format.read_array_header_1_0
    elif version == (2, 0):
        read_header = np.lib.format.read_array_header_2_0
    else:
        raise CodecError(f"{name}: unsupported .npy version {version}")
    start = f.tell()

    def header() -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
        f.seek(start)
        return read_header(f, max_header_size=MAX_HEADER)

    # numpy parses the header with ast.literal_eval, in the grader's worker threads.
    shape, fortran, dtype = parsing.retried(header)
    if dtype.hasobject or dtype.kind not in kinds:
        raise CodecError(f"{name} has dtype {dtype}; only numbers, booleans and strings can be returned")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > budget:
        raise CodecError(
            f"{name} has shape {tuple(shape)}: {nbytes} bytes, over the {budget}-byte limit of what the grader reads"
        )
    buffer = bytearray(nbytes)
    view, filled = memoryview(buffer), 0
    while filled < nbytes:
        got = f.readinto(view[filled:])
        if not got:
            raise CodecError(f"{name} is shorter than its header says")
        filled += got
    arr = np.frombuffer(buffer, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C")


def load_saved_arrays(path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Arrays a notebook saved with np.savez: regular file only, bounded, headers checked before
    anything is allocated, never unpickled."""
    from grader.untrusted import UntrustedFileError, read_file

    try:
        data = read_file(path, max_bytes)
    except UntrustedFileError as exc:
        raise CodecError(str(exc)) from exc
    return read_npz_arrays(data, max_bytes, path.name, kinds=set("biuf"))
