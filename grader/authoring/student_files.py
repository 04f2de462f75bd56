"""What a student's repository gets besides the course's files: a README saying how to check the work,
a `.gitignore` for what `grade` and the notebooks write, the grader version the course pins
(`.nn-grader/requirements.txt`), and the workflow that grades every push and reports the score to
GitHub Classroom. A reference that has its own README.md or .gitignore keeps it."""

from __future__ import annotations

from pathlib import Path
from string import Template

from grader import __version__
from grader.authoring import template
from grader.project import EMBEDDED
from grader.rubric import Rubric

WORKFLOW = ".github/workflows/grade.yml"
REQUIREMENTS = f"{EMBEDDED}/requirements.txt"
# The step whose output the Classroom reporter reads, as `<ID>_RESULTS` (upper case).
RUNNER_ID = "nn-grader"

README = Template("""\
# $title

Your repository for the assignment `$name`. Write your code where the files say so (`YOUR CODE HERE`)
and commit it. Keep `grade.toml` and the `$embedded/` folder as they are: they tell the grader which
assignment this is and hold the course's public checks.

## Check your work

With Python 3.11 or later:

```bash
python3 -m venv .venv
.venv/bin/pip install -r $requirements   # the grader version the course uses
.venv/bin/grade .
```

(On Windows, `.venv\\Scripts\\grade .`.) `grade .` runs your code in separate processes, never
inside the grader, and prints a table of every graded item with its points, followed by "What to
fix": for each item that lost points, what was wrong and where. `grade . --no-notebooks` checks the
functions only, which is faster; `grade . --json report.json --csv report.csv` also writes the
reports, and the figures your notebooks draw go to `figures/`.
$workflow
## What the score means

`grade .` runs in **student mode**: the course's public cases, and checks of your gradients against
numerical gradients of your own code. It is feedback, not your grade. The course staff grade in
**instructor mode**, which also runs hidden cases of other sizes drawn from a secret seed, so passing
every public check is necessary but not a promise of full marks, and answers copied from the public
cases earn nothing. Questions answered in the notebooks are graded by a person.

Nothing your code prints counts: the grader compares what your functions return, and it restores the
course's provided files before grading, so editing them changes nothing.
""")

WORKFLOW_TEXT = """
On every push, GitHub runs the same checks (`$workflow`): the score table is in the run's summary
(the Actions tab), and the items that lost points are marked on your files.
"""

WORKFLOW_YML = f"""\
# Written by grade-build. On every push: the course's public checks in student mode, with the
# grader version the course pins. This is feedback, not your grade: final grades come from the
# course staff's own run with hidden checks, which nothing in this repository can change.
name: Autograding Tests
on:
  push:
  workflow_dispatch:
permissions:
  checks: write  # the Classroom reporter writes the score on this run's check
  actions: read
  contents: read
jobs:
  grade:
    # GitHub Classroom reads the points from the check run of this name.
    name: Autograding Tests
    runs-on: ubuntu-latest
    timeout-minutes: 30
    # The commit GitHub Classroom makes when it creates the repository is not a submission.
    if: github.actor != 'github-classroom[bot]'
    steps:
      - uses: actions/checkout@v6
      - uses: actions/setup-python@v6
        with:
          python-version: "3.11"
          cache: pip
          cache-dependency-path: {REQUIREMENTS}
      - name: Install the grader
        run: python -m pip install -r {REQUIREMENTS}
      - name: Grade (student mode, public checks)
        run: grade . --student-mode --json grade-report/report.json --csv grade-report/report.csv
      - name: Score table in the job summary, items that lost points on your files
        id: {RUNNER_ID}
        if: always()
        run: python -m grader.github_summary grade-report/report.json --classroom
      - name: The score, for GitHub Classroom
        if: always() && steps.{RUNNER_ID}.outputs.result != ''
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          {RUNNER_ID.upper()}_RESULTS: ${{{{ steps.{RUNNER_ID}.outputs.result }}}}
        with:
          runners: {RUNNER_ID}
      - uses: actions/upload-artifact@v6
        if: always()
        with:
          name: grade-report
          path: grade-report/
"""

GITIGNORE = """\
# What `grade` and the notebooks write: not part of your submission.
figures/
grade-output/
grade-report/
grading_outputs/
report.json
report.csv
__pycache__/
.ipynb_checkpoints/
.venv/
"""


def render(rubric: Rubric, template_files: dict[str, bytes]) -> dict[str, bytes]:
    """The README and .gitignore of the template of `rubric`, given the template's other files."""
    workflow = Template(WORKFLOW_TEXT).substitute(workflow=WORKFLOW) if WORKFLOW in template_files else ""
    readme = README.substitute(
        title=rubric.title, name=rubric.name, embedded=EMBEDDED, requirements=REQUIREMENTS, workflow=workflow
    )
    return {"README.md": readme.encode("utf-8"), ".gitignore": GITIGNORE.encode("utf-8")}


def requirement(spec: str | None = None) -> dict[str, bytes]:
    """The pinned grader (`nn-grader==<this version>` unless the course installs it from elsewhere)."""
    return {REQUIREMENTS: f"{spec or f'nn-grader=={__version__}'}\n".encode()}


def student_template(reference_root: Path, rubric: Rubric) -> dict[str, bytes]:
    """Every file of the template: the reference's without solutions or instructor-only files, and the
    README and .gitignore unless the reference has its own."""
    files = {WORKFLOW: WORKFLOW_YML.encode("utf-8"), **requirement()}
    files |= template.render(reference_root, set(rubric.instructor_only))
    leaks = template.leaked_objects(rubric, reference_root, files)
    if leaks:
        raise template.TemplateError("the template would hand out solutions; nothing written:\n  " + "\n  ".join(leaks))
    return {**render(rubric, files), **files}
