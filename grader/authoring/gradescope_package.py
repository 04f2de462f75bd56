"""`grade-build --gradescope ASSIGNMENT OUT.zip`: the autograder package Gradescope's specification asks
for: `setup.sh` and `run_autograder` at the root of the zip, with what they need beside them.

- `setup.sh` runs once, as root, when Gradescope builds the image: Python 3.11 or later, the grader
  the course pins (`requirements.txt`) in a virtual environment under /opt (outside /autograder,
  whose folders no student's child may see), bubblewrap where the image has it, and the course
  folder made readable by root only.
- `run_autograder` runs for each submission: `grade` in instructor mode with the course's
  fixtures, reference and hidden seed (`course/`, `hidden-seed`), writing
  /autograder/results/results.json. A submission uploaded as one folder is found inside
  /autograder/submission. When the grader cannot grade an item it writes no results.json, so
  Gradescope shows the autograder as failed instead of a score the student did not earn.

The zip holds the reference and the hidden seed: upload it to Gradescope only (its autograder files
are the staff's), never to a repository students can read.
"""

from __future__ import annotations

import io
import shlex
import zipfile
from pathlib import Path

from grader.authoring import fixtures as fixtures_build
from grader.authoring import publish, student_files
from grader.gradescope import Visibility
from grader.project import Layout

VENV = "/opt/nn-grader/venv"

SETUP = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (written by grade-build).
set -euo pipefail
source_dir="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# bubblewrap isolates each child where the image allows it; without it, root runs each child as a
# dedicated user that cannot read the course.
apt-get install -y -q bubblewrap || echo "bubblewrap is not available: children run as a dedicated user"
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \\
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        python="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$python" ]; then
    apt-get install -y -q python3.11 python3.11-venv
    python=/usr/bin/python3.11
fi
# Outside /autograder: the children of the grader may see neither it nor the submission's folder.
mkdir -p "$(dirname {VENV})"
"$python" -m venv {VENV} || {{
    apt-get install -y -q "$(basename "$python")-venv" && "$python" -m venv {VENV}
}}
{VENV}/bin/pip install -q --upgrade pip
{VENV}/bin/pip install -q -r "$source_dir/requirements.txt"
chmod -R a+rX "$(dirname {VENV})"
# The reference and the hidden seed: root only.
chmod 700 "$source_dir"
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission, as root (written by grade-build). GRADESCOPE_ROOT moves
# Gradescope's folders and GRADER_BIN the grader's, for a test.
set -uo pipefail
root="${{GRADESCOPE_ROOT:-/autograder}}"
bin="${{GRADER_BIN:-{venv}/bin}}"
mkdir -p "$root/results"
submission="$root/submission"
if [ ! -f "$submission/grade.toml" ]; then
    # Uploaded as one folder (a zip of the repository, a GitHub download): grade that folder.
    found=("$submission"/*/grade.toml)
    if [ "${{#found[@]}}" = 1 ] && [ -f "${{found[0]}}" ]; then
        submission="$(dirname "${{found[0]}}")"
    fi
fi
# Graded from a folder of its own: the children may see nothing beside the submission, and
# /autograder holds this script and the results, readable by every user.
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r "$submission" "$stage/submission"
"$bin/grade" "$stage/submission" --assignment {assignment} --course "$root/source/course" \\
    --hidden-seed-file "$root/source/hidden-seed" --gradescope "$root/results/results.json" \\
    --gradescope-visibility {visibility} --figures "$root/results/figures"
"""


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def render(layout: Layout, seed: str, visibility: Visibility, requirement: str | None = None) -> dict[str, bytes]:
    """Every file of the package (relative path -> bytes); raises publish.PublishError when the
    fixtures are not the build of the reference as it is now."""
    files = {
        "setup.sh": SETUP.encode(),
        "run_autograder": RUN.format(
            venv=VENV, assignment=shlex.quote(layout.name), visibility=shlex.quote(visibility)
        ).encode(),
        "requirements.txt": student_files.requirement(requirement)[student_files.REQUIREMENTS],
        "hidden-seed": f"{seed}\n".encode(),
    }
    for rel, data in publish.public_fixtures(layout).items():
        files[f"course/fixtures/{layout.name}/{rel}"] = data
    # Exactly the reference the fixtures were built from (public_fixtures checked it is unchanged).
    for rel in fixtures_build.reference_sources(layout.reference):
        files[f"course/reference/{layout.name}/{rel}"] = (layout.reference / rel).read_bytes()
    return files


def write_zip(files: dict[str, bytes], out: Path) -> None:
    """The zip Gradescope takes: the files at its root, scripts executable, the same bytes each time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for rel, data in sorted(files.items()):
            executable = rel in ("setup.sh", "run_autograder")
            archive.writestr(_info(rel, 0o755 if executable else 0o644), data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
