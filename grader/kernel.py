"""Entry point of a sandboxed notebook kernel: `python -I -m grader.kernel CONFINEMENT -f CONNECTION_FILE`.

The kernel confines itself (`grader.confine`) before ipykernel starts, so no
student cell ever runs without its limits; one that cannot exits at once, and the
grader reports the kernel's failure to start as its own fault.
"""

from __future__ import annotations

import sys

from grader import confine


def main(argv: list[str]) -> int:
    try:
        confine.apply(confine.Confinement.decode(argv[0]))
    except (confine.ConfinementError, ValueError, TypeError) as exc:
        print(f"grader.kernel: {exc}", file=sys.stderr)
        return 70
    from ipykernel import kernelapp

    import grader.child  # noqa: F401 - the probes, imported before the first cell runs

    sys.argv = [sys.argv[0], *argv[1:]]
    kernelapp.launch_new_instance()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
