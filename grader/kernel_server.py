"""Entry point of a sandboxed kernel server: `python -I -m grader.kernel_server CONFINEMENT FD`.

One serves the notebooks of one submission, in the sandbox their kernels would each have had: it
confines itself as a kernel does (`grader.kernel`), imports once what every kernel imports (ipykernel,
numpy, matplotlib, the grader's probes), and then forks each notebook's kernel when the grader asks
(`grader.kernel_launch`, over the listening socket the grader hands it as FD). Booting a kernel is
then one fork, not half a second of imports.

A forked kernel is still fresh: nothing but imports ran before the fork, no student code ever runs
in the server, and each kernel serves one notebook. It starts a session of its own, joins the pids
cgroup the grader made for it, and draws a fresh seed for numpy's global generator (Python's own is
reseeded at every fork). matplotlib takes its backend at import from MPLBACKEND: it is set here as
ipykernel would set it, and the inline backend itself is imported only in the kernel, where it hooks
into the kernel's shell.

A kernel ends when its launcher's connection closes (the grader stopped or killed it): the server
kills the kernel's session. When a kernel ends by itself, the server sends its exit code, and the
launcher exits with it. The grader stops the server with SIGTERM, and it kills the kernels still
running before it ends: where no sandbox ends with it (the level "none"), none is left behind.

Only the standard library and `grader.confine` are imported before the confinement holds.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
from typing import Any

from grader import confine

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel sets when none is
READY = b"started\n"
REQUEST_BYTES = 64 * 1024


def _preload() -> None:
    os.environ["MPLBACKEND"] = os.environ.get("MPLBACKEND") or INLINE_BACKEND
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    from ipykernel import kernelapp  # noqa: F401

    import grader.child  # noqa: F401 - the probes, there before the first cell runs
    from grader import kernel

    kernel.without_debugger()
    kernel.bound_messages()


def _kernel(request: dict[str, Any], closing: list[int]) -> None:
    """In the forked child: become one notebook's kernel; never returns."""
    code = 70
    try:
        for fd in closing:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        cgroup = request.get("cgroup")
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        import numpy

        numpy.random.seed()
        from ipykernel import kernelapp

        sys.argv = [sys.argv[0], *request["argv"]]
        try:
            kernelapp.launch_new_instance()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)


def serve(listener: socket.socket) -> None:
    """Fork a kernel for each launcher that connects; end it when its launcher goes. SIGTERM (the
    grader stopping the server) kills every kernel still running, then returns."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    selector = selectors.EpollSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    pending: dict[socket.socket, bytes] = {}
    launchers: dict[int, socket.socket] = {}  # a kernel's pid, and its launcher's connection
    while True:
        for key, _ in selector.select():
            if key.data == "accept":
                conn, _ = listener.accept()
                pending[conn] = b""
                selector.register(conn, selectors.EVENT_READ, "request")
            elif key.data == "child":
                os.read(wake_r, 4096)
                if stopping:
                    for pid in launchers:
                        _kill_kernel(pid)
                    return
                _reap(launchers, selector)
            else:
                client = key.fileobj
                assert isinstance(client, socket.socket)
                if client in pending:
                    _read_request(client, pending, launchers, selector, [listener.fileno(), wake_r, wake_w])
                else:
                    _launcher_readable(client, launchers, selector)


def _read_request(
    conn: socket.socket,
    pending: dict[socket.socket, bytes],
    launchers: dict[int, socket.socket],
    selector: selectors.EpollSelector,
    closing: list[int],
) -> None:
    try:
        data = conn.recv(REQUEST_BYTES)
    except OSError:
        data = b""  # the launcher went before asking: nothing to start
    buffered = pending[conn] + data
    if data and b"\n" not in buffered and len(buffered) < REQUEST_BYTES:
        pending[conn] = buffered
        return
    del pending[conn]
    selector.unregister(conn)
    try:
        request = json.loads(buffered.split(b"\n", 1)[0])
    except ValueError:  # an empty or cut request included
        conn.close()
        return
    others = [c.fileno() for c in (*pending, *launchers.values())]
    pid = os.fork()
    if pid == 0:
        _kernel(request, [*closing, selector.fileno(), conn.fileno(), *others])
    launchers[pid] = conn
    selector.register(conn, selectors.EVENT_READ, "launcher")
    conn.sendall(READY)


def _launcher_readable(
    conn: socket.socket, launchers: dict[int, socket.socket], selector: selectors.BaseSelector
) -> None:
    try:
        data = conn.recv(4096)
    except OSError:
        data = b""
    if data:
        return  # a launcher sends nothing more; whatever it is, it is ignored
    selector.unregister(conn)
    for pid, c in launchers.items():
        if c is conn:
            _kill_kernel(pid)
            break


def _kill_kernel(pid: int) -> None:
    """Its session: the kernel and what it started. A kernel that has not reached setsid yet has no
    session of its own, and is killed alone."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _reap(launchers: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    """Collect every ended child (kernels, and what was left to this process as the first of its pid
    namespace), and tell a kernel's launcher how it ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = launchers.pop(pid, None)
        if conn is None:
            continue
        try:
            conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
        except OSError:
            pass
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()


def main(argv: list[str]) -> int:
    try:
        confine.apply(confine.Confinement.decode(argv[0]))
        listener = socket.socket(fileno=int(argv[1]))
    except (confine.ConfinementError, ValueError, TypeError, OSError, IndexError) as exc:
        print(f"grader.kernel_server: {exc}", file=sys.stderr, flush=True)
        return 70
    _preload()
    serve(listener)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
