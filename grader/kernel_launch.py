"""A notebook kernel's stand-in for jupyter_client: `python -I -m grader.kernel_launch SOCKET CGROUP ARGS...`.

Where a kernel server serves a submission's notebooks (`grader.kernel_server`), jupyter_client starts
this small process of the grader's instead of the kernel. It asks the server for a kernel with ARGS
(the connection file's), joined to CGROUP ("-" for none), and lives as long as that kernel does:
killing it (the grader stopping the kernel) closes its connection, and the server kills the kernel;
a kernel that ends by itself ends it, with the kernel's exit code. It runs outside the sandbox and
reads nothing but those lines.
"""

from __future__ import annotations

import json
import socket
import sys

FAILED = 70


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -I -m grader.kernel_launch SOCKET CGROUP ARGS...", file=sys.stderr)
        return 64
    path, cgroup, args = argv[0], argv[1], argv[2:]
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        conn.sendall(json.dumps({"argv": args, "cgroup": None if cgroup == "-" else cgroup}).encode() + b"\n")
        lines = conn.makefile("rb")
        for line in lines:
            if line.startswith(b"exit "):
                return int(line.split()[1])
    except (OSError, ValueError) as exc:
        print(f"grader.kernel_launch: the kernel server is not there: {exc}", file=sys.stderr)
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
