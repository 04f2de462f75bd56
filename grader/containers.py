"""Talking to a container runtime (podman or docker): which one, the `run` line of a sandboxed child
or kernel, stopping a container, and building the image children run in (`grade-build --image`).

An image holds what a child needs and nothing of the course: an interpreter at `PYTHON`, the
`CHILD_DISTRIBUTIONS` at the versions the grader runs with, and the grader's own package. The
reference, the fixtures and the hidden seed never enter it, and a container is given only its
submission's scratch copy, its request folders and the data it may read, at the paths the grader
sees them at. It runs with no network, a read-only root, every capability dropped, and the limits of
`grader.sandbox.Limits` (the memory and process counts as the runtime's own, the rest applied by the
child to itself, as on the host).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import grader
from grader.confine import Confinement
from grader.isolation import ProcessLimit
from grader.sandbox import Limits, SandboxError

# Names the runtime to use ("podman" or "docker", or a path to either) instead of the first found.
RUNTIME_ENV = "GRADER_CONTAINER_RUNTIME"
RUNTIMES = ("podman", "docker")
# Where an image built by `grade-build --image` keeps the children's Python: its environment, apart
# from the image's own.
PREFIX = "/opt/nn-grader"
PYTHON = f"{PREFIX}/bin/python"
# What children and kernels import besides the grader, at the versions the grader runs with
# (scikit-learn for its copy of the digits, the courses' embedded data set).
CHILD_DISTRIBUTIONS = ("numpy", "ipykernel", "matplotlib", "scikit-learn")
BASE_IMAGE = f"docker.io/library/python:{sys.version_info.major}.{sys.version_info.minor}-slim"
# A path with either would split a --volume argument in the wrong place.
_VOLUME_SEPARATORS = (":", ",")


# The runtime caps a container's processes (--pids-limit): nothing is left for the child to do.
PROCESS_LIMIT = ProcessLimit("container", None, None)


class ContainerError(RuntimeError):
    """No container runtime, or it cannot build or run here: the grader's set-up, not a student's."""


@functools.lru_cache(maxsize=1)
def runtime() -> str:
    """The container command to use; raises ContainerError when there is none."""
    wanted = os.environ.get(RUNTIME_ENV, "")
    for name in (wanted,) if wanted else RUNTIMES:
        found = shutil.which(name)
        if found:
            return found
    asked = f"{RUNTIME_ENV}={wanted} is not a command here" if wanted else "neither podman nor docker is installed"
    raise ContainerError(f"--backend container needs a container runtime: {asked}")


def _is_docker(command: str) -> bool:
    return Path(command).name.startswith("docker")


def default_image() -> str:
    """The tag `grade-build --image` gives the image for this grader: its version and a digest of its
    code, so that an image built from other code is never taken for this one."""
    digest = hashlib.sha256()
    package = Path(grader.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"localhost/nn-grader:{grader.__version__}-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class Container:
    """How one container of a submission's code is started: the runtime's `run` line around argv."""

    image: str
    command: str

    def run_argv(
        self,
        argv: Sequence[str],
        *,
        name: str,
        cwd: Path,
        writable: Sequence[Path],
        readable: Sequence[Path],
        env: Mapping[str, str],
        limits: Limits,
        hidden: Sequence[Path] = (),
    ) -> list[str]:
        """The runtime's command line that runs argv (its first word the image's `PYTHON`) in a new
        container: stdin, stdout and stderr attached, removed when it ends. A hidden path inside a
        mounted folder (a data folder that lies in the course, say) is covered: an empty folder, or
        /dev/null for a file. Raises SandboxError for a path the runtime's --volume cannot carry."""
        args = [
            self.command,
            "run",
            "--rm",
            "--interactive",
            "--name",
            name,
            "--network",
            "none",
            "--read-only",
            "--cap-drop",
            "all",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            str(limits.processes),
            "--memory",
            str(limits.memory_bytes),
            "--log-driver",
            "none",
            "--workdir",
            str(cwd),
        ]
        if _is_docker(self.command):
            # Docker's daemon runs as root: without this, what the child writes in its scratch copy
            # would belong to root, and a grader that is not could not remove it.
            args += ["--user", f"{os.getuid()}:{os.getgid()}"]
        mounts = [(p, "ro") for p in dict.fromkeys(readable) if p not in writable]
        mounts += [(p, "rw") for p in dict.fromkeys(writable)]
        mounted = []
        for path, mode in mounts:
            text = _mountable(path)
            args += ["--volume", f"{text}:{text}:{mode}"]
            mounted.append(Path(text))
        for path in dict.fromkeys(Path(os.path.realpath(p)) for p in hidden):
            if not path.exists() or not any(m == path or m in path.parents for m in mounted):
                continue  # what is not mounted is not in the container
            text = _mountable(path)
            # podman copies what the folder holds into a tmpfs unless told not to: the cover would not cover.
            cover = f"{text}:ro" if _is_docker(self.command) else f"{text}:ro,notmpcopyup"
            args += ["--tmpfs", cover] if path.is_dir() else ["--volume", f"/dev/null:{text}:ro"]
        for key, value in sorted(env.items()):
            args += ["--env", f"{key}={value}"]
        return [*args, self.image, *argv]

    def remove(self, name: str) -> None:
        """Stop and remove a container at once, if it still exists (its client may have been killed,
        which leaves the container running)."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [self.command, "rm", "--force", *(() if _is_docker(self.command) else ("--time", "0")), name],
                capture_output=True,
                timeout=60,
                check=False,
            )

    def problem(self) -> str | None:
        """Why a child cannot start in this image here, or None: asked once per image and process."""
        return _problem(self.command, self.image)


def _mountable(path: Path) -> str:
    text = os.path.realpath(path)
    if any(sep in text for sep in _VOLUME_SEPARATORS):
        raise SandboxError(f"the container runtime cannot mount {text}: its path holds ':' or ','")
    return text


def new_name() -> str:
    return f"nn-grader-{secrets.token_hex(8)}"


def confinement(limits: Limits, hidden: Sequence[Path], needed: Sequence[Path]) -> Confinement:
    """What a child in a container applies to itself: the limits the runtime does not set, and the
    check that none of the hidden paths was mounted and all it needs was."""
    return Confinement(
        limits.memory_bytes,
        limits.cpu_seconds,
        limits.file_bytes,
        verify=True,
        hidden=tuple(str(p) for p in hidden),
        needed=tuple(dict.fromkeys([PREFIX, *(os.path.realpath(p) for p in needed)])),
    )


def client_env() -> dict[str, str]:
    """The environment of the runtime's own client, the grader's (a rootless podman finds its storage
    through it); the child's is given on the run line."""
    return dict(os.environ)


_present: set[tuple[str, str]] = set()  # images found, asked about once per process


def _problem(command: str, image: str) -> str | None:
    if (command, image) in _present:
        return None
    try:
        found = subprocess.run(
            [command, "image", "inspect", image], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{command} cannot be asked about images: {exc}"
    if found.returncode != 0:
        return f"there is no image {image}; build it with grade-build --image (or name one with --image)"
    docker = _is_docker(command)
    asked = ["info", "--format", INFO_FORMATS[docker]]
    try:
        info = subprocess.run([command, *asked], capture_output=True, text=True, timeout=120, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{command} cannot be asked about the host: {exc}"
    problem = limits_problem(info, docker)
    if problem is not None:
        return problem
    _present.add((command, image))
    return None


# What `info` says of the cgroups version and of running rootless: podman's, docker's.
INFO_FORMATS = {
    False: "{{.Host.CgroupsVersion}} {{.Host.Security.Rootless}}",
    True: "{{.CgroupVersion}} {{.SecurityOptions}}",
}


def limits_problem(info: str, docker: bool) -> str | None:
    """Why the runtime would not enforce a container's memory and process limits, from its `info`
    (INFO_FORMATS): a rootless runtime on cgroups v1 ignores --memory and --pids-limit, so a fork
    bomb would be stopped by nothing but the wall clock. None when it enforces them."""
    words = info.split()
    if not words:
        return None
    version = words[0].lstrip("v")
    rootless = "rootless" in info if docker else words[1:2] == ["true"]
    if version == "1" and rootless:
        return (
            "the container runtime runs rootless on cgroups v1 here, where it ignores the memory and process "
            "limits; grade with --backend local (bubblewrap), or run the runtime as root or on cgroups v2"
        )
    return None


def child_requirements(extra: Sequence[str] = ()) -> list[str]:
    """Each of `CHILD_DISTRIBUTIONS` pinned to the version installed here, and each of `extra` (what a
    course's code imports besides): pinned too when it is a name installed here, else as given."""
    pins = []
    for name in CHILD_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as exc:
            raise ContainerError(f"{name} is not installed here, so its version cannot be pinned") from exc
    for requirement in extra:
        try:
            pins.append(f"{requirement}=={metadata.version(requirement)}")
        except (metadata.PackageNotFoundError, ValueError):
            pins.append(requirement)
    return pins


CONTAINERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 -m venv {prefix} \\
 && {prefix}/bin/python -c "import sys; sys.exit(sys.version_info[:2] != {version} and \\
    'the base image has Python %d.%d, the grader {dotted}: pass --base an image of it' % sys.version_info[:2])" \\
 && {prefix}/bin/python -m pip install --no-index --find-links /tmp/wheels --no-cache-dir {requirements} \\
 && rm -rf /tmp/wheels
COPY grader {site}/grader
ENV PYTHONDONTWRITEBYTECODE=1
"""


def build(
    tag: str, base: str = BASE_IMAGE, wheels: Path | None = None, extra: Sequence[str] = (), echo: bool = True
) -> None:
    """Build the children's image as `tag` from `base` (any image with `python3` of this grader's
    minor version and its venv module). The packages come as wheels downloaded here, for this
    interpreter, unless `wheels` already holds them; the image is built with no network. Raises
    ContainerError."""
    command = runtime()
    requirements = child_requirements(extra)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory(prefix="grade-image-") as tmp:
        context = Path(tmp)
        if wheels is not None:
            shutil.copytree(wheels, context / "wheels")
        else:
            _download(requirements, context / "wheels", echo)
        shutil.copytree(
            Path(grader.__file__).parent, context / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        (context / "Containerfile").write_text(
            CONTAINERFILE.format(
                base=base,
                prefix=PREFIX,
                requirements=" ".join(shlex.quote(r) for r in requirements),
                version=tuple(sys.version_info[:2]),
                dotted=f"{sys.version_info.major}.{sys.version_info.minor}",
                site=f"{PREFIX}/lib/{version}/site-packages",
            )
        )
        argv = [command, "build", "--network", "none", "--file", str(context / "Containerfile"), "--tag", tag, tmp]
        done = subprocess.run(argv, capture_output=not echo, text=True, check=False)
        if done.returncode != 0:
            why = (done.stderr or "").strip().splitlines()[-1:] if not echo else []
            raise ContainerError(f"{Path(command).name} build failed" + (f": {why[0]}" if why else ""))


def _download(requirements: list[str], folder: Path, echo: bool) -> None:
    argv = [sys.executable, "-m", "pip", "download", "--only-binary", ":all:", "--dest", str(folder), *requirements]
    done = subprocess.run(argv, capture_output=not echo, text=True, check=False)
    if done.returncode != 0:
        raise ContainerError(
            "the packages for the image could not be downloaded (pip download failed); download them with "
            f"`pip download --only-binary :all: --dest DIR {' '.join(requirements)}` where the index can be "
            "reached, and pass --wheels DIR"
        )
