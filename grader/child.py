"""Entry point of the sandboxed child: `python -I -m grader.child ROOT CONTROL_FD LOG HIDDEN CONFINEMENT`.

The child first confines itself (`grader.confine`) and says "ready" on the control
pipe; a child that cannot is the grader's fault, reported as such. Then it imports
the submission from ROOT and serves probe requests one at a time. Requests arrive on
stdin as lines naming a request file (`codec.dump_request`) and, after a tab,
a reply file that the child creates (`write_reply`: a line of JSON metadata, then the
returned value as `codec.dumps` encodes it); then
it writes one line on the control pipe. The student's prints go to LOG, never to the control
pipe, so nothing they print can pass for a reply.

Only the standard library, numpy and the grader's own data modules are imported.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import sys
import time
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from grader import codec, confine, kinds, replay
from grader.probes import ProbeError

# Before any student code can run (a notebook's kernel imports this module first, too).
kinds.preload_probes()

MAX_RESULT_BYTES = 64 * 1024 * 1024
MAX_MESSAGE_CHARS = 2000


def _student_traceback(exc: BaseException, root: str) -> str:
    """The traceback cut down to the frames in the student's own files."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if (os.path.isabs(f.filename) and os.path.realpath(f.filename).startswith(root + os.sep))
        or "ipykernel_" in f.filename
    ]  # a notebook cell's code
    lines = []
    for f in frames:
        rel = "notebook cell" if "ipykernel_" in f.filename else os.path.relpath(f.filename, root)
        lines.append(f'  File "{rel}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line.strip()}")
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        rel = os.path.relpath(exc.filename, root) if os.path.isabs(exc.filename) else exc.filename
        lines.append(f'  File "{rel}", line {exc.lineno}')
        if exc.text:
            lines.append(f"    {exc.text.strip()}")
    text = "\n".join(lines)
    return text[-MAX_MESSAGE_CHARS:]


class ImportFailure(Exception):
    """The student's module raised while being imported."""

    def __init__(self, module: str, error: BaseException) -> None:
        super().__init__(module)
        self.module, self.error = module, error


def _resolve(module_name: str, qualname: str) -> Any:
    try:
        obj: Any = importlib.import_module(module_name)
    except BaseException as exc:  # a module may raise anything at import
        raise ImportFailure(module_name, exc) from exc
    for part in qualname.split(".") if qualname else ():
        obj = getattr(obj, part)
    return obj


def serve_in_namespace(request_file: str, reply_file: str, namespace: dict[str, Any]) -> None:
    """Serve one request inside a notebook's kernel: the objects come from the notebook's globals."""

    def resolve(module_name: str, qualname: str) -> Any:
        if not qualname:  # an adapter's view of the notebook: its globals as attributes
            return types.SimpleNamespace(**{k: v for k, v in namespace.items() if isinstance(k, str)})
        obj: Any = None
        for k, part in enumerate(qualname.split(".")):
            if k == 0:
                if part not in namespace:
                    raise NameError(f"the notebook defines no {part!r}")
                obj = namespace[part]
            else:
                obj = getattr(obj, part)
        return obj

    serve_one(Path(request_file), Path(reply_file), os.path.realpath(os.getcwd()), resolve, namespace)


def _targets(resolve: Any, module: str, qualname: str, params: dict[str, Any]) -> Any:
    """The object a probe calls, and in params the forward pass or baseline it also needs.

    Without an adapter these are the student's own objects. With one (`adapter =
    "pkg.mod:function"` in the rubric) they are the course's adapter functions, each
    called with the student's module (or the notebook's globals) as first argument:
    this maps an API of classes onto the probes' function contract.
    """
    companions = [key for key in ("forward", "baseline") if key in params]
    if "adapter" not in params:
        for key in companions:
            params[f"{key}_object"] = resolve(module, params[key])
        return resolve(module, params.get("class", qualname))
    scope = resolve(module, "")
    adapter_module, _, adapter_name = params["adapter"].partition(":")
    adapters = _resolve(adapter_module, "")
    for key in companions:
        params[f"{key}_object"] = functools.partial(getattr(adapters, params[key]), scope)
    return functools.partial(getattr(adapters, adapter_name), scope)


def _dependencies(resolve: Any, trace: Any) -> dict[Any, list[str]]:
    """The functions of the items an item depends on, each with the ids it is graded under; an
    item that cannot be found (not written yet, a notebook's in a plain child) is left out."""
    found: dict[Any, list[str]] = {}
    for entry in trace or ():
        try:
            item_id, module, qualname = entry
            function = resolve(module, qualname)
        except BaseException:  # noqa: BLE001 - finding it may run student code; notes are best effort
            continue
        if isinstance(function, types.FunctionType):
            found.setdefault(function, []).append(str(item_id))
    return found


@contextlib.contextmanager
def _wrapping(
    functions: dict[Any, list[str]], wrap: Any, root: str, namespace: dict[str, Any] | None = None
) -> Iterator[None]:
    """Each of `functions` replaced, for the probe's duration, wherever the submission's modules and
    classes hold it (a call looks its name up there), by `wrap(function, ids)`: only these calls
    pay, where a trace or profile function would slow every call the probe makes.

    In a notebook's kernel the notebook's globals (`namespace`) and the classes its cells define hold
    them too: a function a cell defines is looked up there by the cells' code.

    The wrapper notes the call (a dependency note names what the student's code called, not what
    the rubric expects it to call), or records or replays it (`grader.replay`)."""
    if not functions:
        yield
        return
    replaced: list[tuple[Any, str, Any]] = []
    holders: list[Any] = [m for m in list(sys.modules.values()) if _is_under(getattr(m, "__file__", None), root)]
    if namespace is not None:
        for name, value in list(namespace.items()):
            if isinstance(value, types.FunctionType) and value in functions:
                namespace[name] = wrap(value, functions[value])
                replaced.append((namespace, name, value))
            elif isinstance(value, type) and value.__module__ == "__main__":
                holders.append(value)
    holders += [v for m in holders for v in list(vars(m).values()) if isinstance(v, type)]
    for holder in holders:
        for name, value in list(vars(holder).items()):
            if isinstance(value, types.FunctionType) and value in functions:
                try:
                    setattr(holder, name, wrap(value, functions[value]))
                except (AttributeError, TypeError):  # a class that refuses new attributes: not noted
                    continue
                replaced.append((holder, name, value))
    try:
        yield
    finally:
        for holder, name, value in reversed(replaced):
            if isinstance(holder, dict):
                holder[name] = value
            else:
                setattr(holder, name, value)


def _is_under(path: Any, root: str) -> bool:
    # The submission is imported from `root` as it stands on sys.path: no realpath per module needed.
    return isinstance(path, str) and path.startswith(root + os.sep)


def _noted(function: Any, ids: list[str], called: set[str]) -> Any:
    @functools.wraps(function)
    def noted(*args: Any, **kwargs: Any) -> Any:
        called.update(ids)
        return function(*args, **kwargs)

    return noted


def _raised_is_an_outcome(exc: Exception, recorder: replay.Recorder | None, replayer: replay.Replayer | None) -> bool:
    """Whether code that raised, while its calls are recorded or replayed, answers with the exception's
    type instead: code fed a wrong upstream's values may raise where the reference, fed the same
    values, raises too. Only after a whole recording (every call recorded, or every recorded call
    replayed)."""
    if isinstance(exc, (replay.Diverged, NotImplementedError, ProbeError, codec.CodecError)):
        return False
    if replayer is not None:
        return replayer.next == len(replayer.calls)
    return recorder is not None and recorder.recording() is not None


def serve_one(
    request_file: Path, reply_file: Path, root: str, resolve: Any = None, namespace: dict[str, Any] | None = None
) -> None:
    """Answer the request in request_file with a new reply_file (`write_reply`; the grader reads it as
    untrusted data in any case)."""
    request, inputs = codec.load_request(request_file)
    body = b""
    meta: dict[str, Any] = {"status": "ok"}
    started = time.perf_counter()
    resolve = resolve or _resolve
    params = dict(request["params"])
    trace = params.pop("trace", None)
    record, replay_of = params.pop("record", None), params.pop("replay", None)
    called: set[str] = set()
    recorder, replayer = replay.Recorder(), None
    try:
        probe = kinds.probe(request["probe"])
        if replay_of:
            replayer = replay.Replayer(inputs.pop(replay.REPLAY_INPUT, None))
        # Found once before the dependencies are wrapped (which imports every module they live in, so
        # that no module binds a wrapper at its import), and again inside, so that a forward pass the
        # probe calls itself is the wrapper too.
        _targets(resolve, request["module"], request["qualname"], dict(params))
        if replayer is not None:
            functions, wrap = _dependencies(resolve, replay_of), lambda f, ids: replayer.wrap(f, ids[0])
        elif record:
            functions, wrap = _dependencies(resolve, record), lambda f, ids: recorder.wrap(f, ids[0])
        else:
            functions, wrap = _dependencies(resolve, trace), lambda f, ids: _noted(f, ids, called)
        wrapping = _wrapping(functions, wrap, root, namespace)
        with wrapping:
            target = _targets(resolve, request["module"], request["qualname"], params)
            try:
                result = probe(target, params, inputs)
            except Exception as exc:
                if not _raised_is_an_outcome(exc, recorder if record else None, replayer):
                    raise
                result = {"raised": type(exc).__name__}
        if replayer is not None and "raised" not in result:
            replayer.finish()
        payload = codec.dumps(result)
        if record and isinstance(result, dict) and recorder.recording() is not None:
            try:  # a recording too large, or of values that cannot travel, is no recording
                recorded = codec.dumps({**result, "calls": recorder.recording()})
                payload = recorded if len(recorded) <= MAX_RESULT_BYTES else payload
            except codec.CodecError:
                pass
        if len(payload) > MAX_RESULT_BYTES:
            raise ProbeError(f"the outputs take {len(payload)} bytes, more than the {MAX_RESULT_BYTES}-byte limit")
        body = payload
    except (ProbeError, codec.CodecError) as exc:
        meta = {"status": "bad_return", "message": str(exc)[:MAX_MESSAGE_CHARS]}
    except ImportFailure as failure:
        error = failure.error
        meta = {
            "status": "exception",
            "error_type": type(error).__name__,
            "message": str(error)[:MAX_MESSAGE_CHARS],
            "traceback": _student_traceback(error, root),
            "import_failed": failure.module,
        }
    except NotImplementedError as exc:
        meta = {"status": "not_implemented", "message": str(exc)[:MAX_MESSAGE_CHARS]}
    except BaseException as exc:  # noqa: BLE001 - student code may raise anything, SystemExit included
        meta = {
            "status": "exception",
            "error_type": type(exc).__name__,
            "message": str(exc)[:MAX_MESSAGE_CHARS],
            "traceback": _student_traceback(exc, root),
        }
    meta["duration_s"] = time.perf_counter() - started
    if trace is not None:
        meta["called"] = sorted(called)
    if _SUSPICIOUS:
        meta["suspicious"] = list(_SUSPICIOUS)
        _SUSPICIOUS.clear()
    write_reply(reply_file, meta, body)


def write_reply(path: Path, meta: dict[str, Any], body: bytes) -> None:
    """A reply in one new file: the metadata as one line of JSON (which escapes any newline in a
    string), then the returned value's bytes. One file, not a folder of two, for the reason a
    request is one file (`codec.dump_request`). Never through a link, nor over a file already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as reply:
        reply.write(json.dumps(meta).encode() + b"\n" + body)


_SUSPICIOUS: list[str] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _deepest(full: str, roots: list[str]) -> int:
    """The length of the longest of roots that is full or holds it (-1 for none)."""
    return max((len(r) for r in roots if full == r or full.startswith(r.rstrip(os.sep) + os.sep)), default=-1)


def watch_paths(allowed: list[str], hidden: list[str], readable: list[str] | None = None) -> None:
    """Note (best effort: only for the report, protection does not depend on it) every file
    opened for writing outside the allowed folders, and every file opened under a hidden folder
    unless a folder nearer to it is the child's own: an allowed one, or a `readable` one (the
    child's Python, and the inboxes of the requests it serves: a list the caller extends). The
    nearest folder decides: a course folder may hold the environment (readable) and the reference
    (hidden), the temp folder hidden as the class's may hold the child's own scratch copy."""
    mine = readable if readable is not None else []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or len(_SUSPICIOUS) >= 20:
            return
        path, mode, flags = ([*list(args), None, None, None])[:3]
        if not isinstance(path, (str, bytes)):
            return
        name = os.fsdecode(path)
        full = os.path.abspath(name)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and mode is None and bool(flags & _WRITE_FLAGS)
        )
        own = _deepest(full, allowed)
        if _deepest(full, hidden) > max(own, _deepest(full, mine)):
            _SUSPICIOUS.append(f"opened {full}, which the grader hides from submissions")
        elif writing and own < 0:
            _SUSPICIOUS.append(f"opened {full} for writing, outside its scratch folder")

    sys.addaudithook(hook)


def main(argv: list[str]) -> int:
    root, control_fd, log = os.path.realpath(argv[0]), int(argv[1]), argv[2]
    watched = json.loads(argv[3])
    try:
        confine.apply(confine.Confinement.decode(argv[4]))
    except confine.ConfinementError as exc:
        print(f"grader.child: {exc}", file=sys.stderr)  # the parent reports it as its own fault
        return 70
    readable: list[str] = list(watched["runtime"])  # and the inbox of each request, as it comes
    watch_paths([root, os.path.dirname(os.path.abspath(log)), "/dev/null"], watched["hidden"], readable)
    if control_fd <= 2:
        # In a container the control line is the container's stdout (fd 1), which the student's
        # prints must not reach: it moves to an fd of its own before fd 1 becomes the log.
        control_fd = os.dup(control_fd)
    control = os.fdopen(control_fd, "w", buffering=1)
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    stdin = sys.stdin
    sys.stdin = open(os.devnull)  # noqa: SIM115 - open for the child's life: student code reads EOF
    # The submission comes last on the path: its files cannot shadow numpy or the stdlib.
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root] + [root]
    np.seterr(all="ignore")
    control.write("ready\n")
    for line in stdin:
        request_file, _, reply_file = line.rstrip("\n").partition("\t")
        inbox = os.path.dirname(os.path.abspath(request_file))
        if inbox not in readable:
            readable.append(inbox)
        serve_one(Path(request_file), Path(reply_file), root)
        control.write("done\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
