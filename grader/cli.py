"""`grade [PATH...]`: grade submissions and report.

Exit status: 0 when grading ran, whatever the score; 2 for a usage or set-up
error; 1 when --fail-under is given and a submission scored below it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from grader import (
    __version__,
    backends,
    canvas,
    cluster,
    containers,
    cpus,
    inert,
    isolation,
    manual,
    roster,
    selection,
    shards,
    similarity,
    similarity_report,
    terminal,
)
from grader.batch import Job, Submission, discover, is_batch, local, run_batch, settings_of, unreadable
from grader.class_reports import batch_summary, commit_columns, people_columns, write_class_outputs
from grader.engine import Assignment, ReferenceAnswers, SetupError, check_sandbox, grade, load_assignment
from grader.gradescope import VISIBILITIES, write_results_json
from grader.options import GradeOptions
from grader.project import (
    COURSE_ENV,
    EMBEDDED,
    MARKER,
    Layout,
    MarkerError,
    embedded_course,
    find_project_root,
    installed_project_root,
    is_course,
    marked_assignment,
    marker_above,
    marker_below,
)
from grader.provenance import parse_due
from grader.reports import (
    ReportCountError,
    Writer,
    write_class_json,
    write_csv,
    write_figures,
    write_report_json,
)
from grader.results import Report
from grader.submissions import SubmissionError, extract_zip

DEFAULT_SEED_FILE = Path("~/.config/nn-grader/hidden-seed")
ALLOW_UNISOLATED_ENV = "GRADER_ALLOW_UNISOLATED"


def _assignment_name(path: Path, given: str | None) -> str:
    if given:
        return given
    if not (path / MARKER).is_file():
        raise SetupError(_no_submission(path))
    try:
        return marked_assignment(path)
    except (OSError, MarkerError) as exc:
        raise SetupError(f"{exc}; pass --assignment NAME") from exc


def _no_submission(path: Path) -> str:
    """What to do about a folder that is no submission (no grade.toml) and holds none."""
    path = Path.cwd() if path == Path(".") else path
    above = marker_above(path)
    if above is not None:
        return (
            f"{path} is inside the submission {above}: grade that folder instead "
            f"(`grade {os.path.relpath(above)}`, or cd there and run `grade`)"
        )
    below = marker_below(path)
    if below is not None:
        nearest = os.path.relpath(below)
        return f"{path} holds no submission ({MARKER} is not in it); the nearest is {nearest}: `grade {nearest}`"
    return (
        f"{path} holds no submission: no {MARKER} in it, above it or below it. Run `grade` in your clone of "
        "the assignment (its folder holds grade.toml), or pass --assignment NAME"
    )


def seed_file(path: Path | None) -> Path:
    return (path or Path(os.environ.get("GRADER_HIDDEN_SEED_FILE", DEFAULT_SEED_FILE))).expanduser().resolve()


def hidden_seed(path: Path | None) -> str:
    """The secret seed of instructor mode: from the file given, or one made once per instructor."""
    where = seed_file(path)
    if not where.exists():
        if path is not None:
            raise SetupError(f"hidden seed file {where} does not exist")
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_text(secrets.token_hex(32) + "\n")
        where.chmod(0o600)
        print(f"grade: created a hidden seed in {where}; keep it to reproduce grades", file=sys.stderr)
    seed = where.read_text().strip()
    if not seed:
        raise SetupError(f"hidden seed file {where} is empty")
    return seed


def _course(path: Path, args: argparse.Namespace, batch: bool) -> tuple[Path | None, bool]:
    """The course folder to grade from, and whether its reference may be used (instructor mode).

    In order: --course, $GRADER_COURSE, the course the submission (or class folder) lies in, the
    public course a published template carries in .nn-grader/ (one submission only, and never its
    reference: it is the student's), and the checkout this grader was installed from."""
    given = args.course or (Path(os.environ[COURSE_ENV]) if os.environ.get(COURSE_ENV) else None)
    if given is not None:
        source = "--course" if args.course else f"${COURSE_ENV}"
        if not is_course(given):
            raise SetupError(f"{source} {given} is not a course folder (it has no fixtures/ or reference/)")
        return given, True
    # A course is never inside a submission: a folder of a student's can only be found as public.
    root = find_project_root(path.resolve() if batch else path.resolve().parent)
    if root is not None:
        return root, True
    embedded = None if batch else embedded_course(path)
    if embedded is not None:
        return embedded, False
    return installed_project_root(), True


def _resolve(path: Path, args: argparse.Namespace, batch: bool = False) -> tuple[Assignment, str | None]:
    """The assignment and the hidden seed (None in student mode).

    On a host without isolation, instructor mode refuses to start when it was asked for (--reference)
    or would grade a class; one submission next to a reference that was merely found (the bundled
    example, a TA trying the grader) is graded in student mode instead, saying so."""
    name = _assignment_name(path, args.assignment)
    root, trusted = _course(path, args, batch) if args.fixtures is None or args.reference is None else (None, False)
    fixtures = args.fixtures or (Layout(root, name).fixtures if root else None)
    if fixtures is None:
        raise SetupError(
            f"no course for assignment {name!r}: pass --course DIR (the folder holding fixtures/{name}/), set "
            f"{COURSE_ENV}=DIR, or grade a clone of the course's published template (its {EMBEDDED}/ holds "
            "the public fixtures)"
        )
    if not fixtures.is_dir():
        raise SetupError(
            f"no fixtures for assignment {name!r} in {fixtures.parent}; run `grade-build` there or pass --fixtures DIR"
        )
    reference = args.reference
    if reference is None and not args.student_mode and root is not None and trusted:
        beside = Layout(root, name).reference
        reference = beside if (beside / "rubric.toml").is_file() else None
    if args.student_mode:
        reference = None
    if (
        reference is not None
        and args.backend == "local"
        and isolation.level() == "none"
        and not (args.allow_unisolated or os.environ.get(ALLOW_UNISOLATED_ENV) == "1")
        # A class graded on a cluster runs no student code here: each worker checks its own isolation.
        and not (batch and args.scheduler)
    ):
        advice = (
            "Install bubblewrap (Debian and Ubuntu: apt install bubblewrap) and grade again, or pass "
            "--allow-unisolated if every submission is trusted"
        )
        if args.reference is not None or batch:
            raise SetupError(f"instructor mode without isolation: on this host {isolation.UNISOLATED_RISKS}. " + advice)
        print(
            f"grade: graded in student mode (public checks only): the reference was found beside the "
            f"fixtures, but this host has no isolation for instructor mode. {advice}",
            file=sys.stderr,
        )
        reference = None
    seed = hidden_seed(args.hidden_seed_file) if reference is not None else None
    return load_assignment(fixtures, reference), seed


def _shard(text: str) -> shards.Shard:
    try:
        return shards.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--shard {text}: ")) from exc


# Options that apply to the whole class: with --shard they are `grade merge`'s.
CLASS_WIDE = ("roster", "due", "canvas", "manual_grades", "json", "csv", "gradescope")


EXAMPLES = """\
examples:
  grade                                  grade the submission in this folder
  grade --only affine_forward            one item (or several: a,b or --only
                                         again; short names, ids, globs)
  grade --only 'nndl.optim:*' --no-notebooks
  grade hw3/ --reference ref/hw3         instructor mode: hidden cases too
  grade submissions/                     a class folder: gradebook and class
                                         reports in grade-output/
  grade submissions/ --shard 2/3 --out part-2
  grade merge part-*/ --out grade-output
  grade submissions/ --similarity --against known/
                                         also pairs of submissions (or known
                                         solutions) with much code in common

`grade merge PART...` puts the parts of a class graded with --shard together
(see `grade merge -h`).
"""


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1, such as 0.75")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grade",
        usage="%(prog)s [PATH ...] [options]",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[Path(".")],
        metavar="PATH",
        help="a submission folder or .zip, or a folder of them (default: this folder)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    what = parser.add_argument_group("what to grade")
    what.add_argument(
        "--only",
        action="append",
        metavar="ITEM[,ITEM...]",
        help="grade these items only: ids or short names (affine_forward, TwoLayerNet.loss), globs ('*_backward')",
    )
    what.add_argument("--no-notebooks", action="store_true", help="grade module items only")
    what.add_argument("--timeout", type=float, metavar="S", help="seconds per item case (overrides the rubric)")
    what.add_argument(
        "--dataset", metavar="NAME", help="data set for notebooks and thresholds (default: the rubric's first)"
    )
    what.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where that data set lives (e.g. cifar-10-batches-py)"
    )
    what.add_argument(
        "--assignment", metavar="NAME", help="assignment name (default: read from the submission's grade.toml)"
    )
    what.add_argument(
        "--course",
        type=Path,
        metavar="DIR",
        help=f"course folder holding fixtures/ (and reference/ for instructor mode); default: ${COURSE_ENV}, "
        "else the course the submission lies in, else its published template's public fixtures",
    )
    what.add_argument("--fixtures", type=Path, metavar="DIR", help="the assignment's fixtures folder")
    instructor = parser.add_argument_group("instructor mode")
    instructor.add_argument("--reference", type=Path, metavar="DIR", help="reference solution folder: instructor mode")
    instructor.add_argument(
        "--hidden-seed-file",
        type=Path,
        metavar="FILE",
        help=f"secret seed for hidden inputs (default: $GRADER_HIDDEN_SEED_FILE or {DEFAULT_SEED_FILE})",
    )
    instructor.add_argument("--student-mode", action="store_true", help="ignore any reference: public checks only")
    instructor.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="grade in instructor mode on a host without isolation (see the README's security "
        f"model; also ${ALLOW_UNISOLATED_ENV}=1)",
    )
    where = parser.add_argument_group("where student code runs")
    where.add_argument(
        "--backend",
        choices=("local", "container"),
        default="local",
        help="local: processes of this machine, at its isolation level; container: each child and kernel in a "
        "container of its own (podman or docker; the image from grade-build --image)",
    )
    where.add_argument(
        "--image",
        metavar="IMAGE",
        help="with --backend container, the image (default: the one grade-build --image built)",
    )
    whole = parser.add_argument_group("a class (a folder of submissions)")
    whole.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("grade-output"),
        help="class reports and the cache (default: grade-output)",
    )
    whole.add_argument(
        "--jobs", type=int, metavar="N", help="submissions graded at once (default: the CPUs this process may use)"
    )
    whole.add_argument("--force", action="store_true", help="regrade every submission, ignoring the cache")
    whole.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the Dask cluster whose scheduler is there (e.g. tcp://10.0.0.5:8786); "
        f"the cache stays here ({cluster.INSTALL})",
    )
    whole.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="grade the K-th of N shares into --out, for a job array or a CI matrix; then `grade merge` the N parts",
    )
    whole.add_argument(
        "--roster",
        type=Path,
        metavar="CSV",
        help="CSV of submission (or github_username), student_id, name, email: joined to the class reports",
    )
    whole.add_argument(
        "--due",
        metavar="DATE",
        help="due date (ISO 8601, e.g. 2026-12-01T23:59+01:00): a late flag from each git submission's last commit",
    )
    whole.add_argument(
        "--manual-grades", type=Path, metavar="CSV", help="CSV of submission,id,points,comment for manual items"
    )
    whole.add_argument(
        "--similarity",
        action="store_true",
        help="also compare the functions students wrote, pair by pair: similarity.html and similarity.csv in --out "
        "(a lead for a person; no score changes)",
    )
    whole.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="with --similarity, compare each submission with the known solutions in DIR too (one per subfolder or "
        "file, e.g. public repositories of the assignment)",
    )
    whole.add_argument(
        "--similarity-threshold",
        type=_share,
        metavar="SHARE",
        default=similarity.THRESHOLD,
        help=f"flag a pair when this share of one side's code is in the other's (default: {similarity.THRESHOLD})",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write one CSV row per item here")
    output.add_argument(
        "--figures",
        type=Path,
        metavar="DIR",
        help="folder for the notebooks' figures (default: figures/ beside --json or --csv, else here)",
    )
    output.add_argument("--fail-under", type=float, metavar="POINTS", help="exit 1 if a total is below this")
    output.add_argument("--quiet", action="store_true", help="no table on the terminal")
    output.add_argument(
        "--canvas", type=Path, metavar="CSV", help="also write a CSV Canvas's gradebook imports (needs --roster)"
    )
    output.add_argument(
        "--canvas-assignment", metavar="COLUMN", help="the Canvas column, e.g. 'HW3 (1234)' (default: the assignment)"
    )
    output.add_argument(
        "--gradescope", type=Path, metavar="FILE", help="write Gradescope's results.json here (one submission)"
    )
    output.add_argument(
        "--gradescope-visibility",
        choices=VISIBILITIES,
        default="visible",
        metavar="WHEN",
        help=f"when students see the results that include hidden cases: {', '.join(VISIBILITIES)} (instructor "
        "mode; default: visible)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except _Interrupted:
        return 130  # said where
    except KeyboardInterrupt:
        print("grade: interrupted", file=sys.stderr)
        return 130


class _Interrupted(Exception):
    """Ctrl-C, once the batch's workers are stopped and the user told what was kept."""


def _main(argv: list[str]) -> int:
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.scheduler is not None and args.jobs is not None:
        parser.error(
            "--jobs: on a cluster, each worker process grades one submission at a time (dask worker --nworkers N)"
        )
    if args.shard is not None:
        if len(args.paths) != 1 or not is_batch(args.paths[0], bool(args.assignment)):
            parser.error("--shard grades a share of one folder of submissions: give that one folder")
        given = [f"--{o.replace('_', '-')}" for o in CLASS_WIDE if getattr(args, o)]
        if given:
            parser.error(f"{', '.join(given)}: for the whole class, so give it to `grade merge` rather than a shard")
    if args.against is not None and not args.similarity:
        parser.error("--against DIR: the known solutions are for --similarity; add it")
    if args.against is not None and not args.against.is_dir():
        parser.error(f"--against {args.against}: not a folder (it holds one known solution per subfolder or file)")
    if args.similarity and (args.shard is not None or not any(is_batch(p, bool(args.assignment)) for p in args.paths)):
        parser.error("--similarity compares a whole class at once: give the folder of submissions, without --shard")
    grades = _class_inputs(args, parser)
    if grades is None:
        return 2
    report_file = args.json or args.csv
    figures_dir = args.figures or (report_file.parent if report_file else Path.cwd()) / "figures"
    reports: list[Report] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-zips-") as unpacked:
        code = _grade_all(args, parser, reports, grades, figures_dir, Path(unpacked))
    if code:
        return code
    problems = manual.unmatched(grades, reports, any(is_batch(p, bool(args.assignment)) for p in args.paths))
    if problems:
        print(f"grade: {args.manual_grades}: rows that match nothing graded:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("Fix the names in that file (they are the submissions' folder names) and rerun.", file=sys.stderr)
        return 2
    faulty = any(r.grader_faults for r in reports)
    if args.gradescope is not None and faulty:
        # Not a grade: Gradescope then shows the autograder as failed, and the staff rerun it.
        print(f"grade: {args.gradescope} not written: an item could not be graded (above)", file=sys.stderr)
        args.gradescope = None
    # One submission's JSON report is one object; a class's (or several paths') a list, even of one.
    one = len(args.paths) == 1 and not is_batch(args.paths[0], bool(args.assignment))
    writers: list[tuple[Path | None, Writer]] = [
        (
            args.gradescope,
            partial(write_results_json, visibility=args.gradescope_visibility, seconds=time.monotonic() - started),
        ),
        (args.json, write_report_json if one else write_class_json),
        (args.csv, write_csv),
    ]
    for path, writer in writers:
        if path is not None and reports:
            try:
                writer(reports, path)
            except ReportCountError as exc:
                print(f"grade: {exc}", file=sys.stderr)
                return 2
    if faulty or getattr(args, "similarity_failed", False):
        return 2  # not a grade, or similarity missing: said on stderr as each happened
    if args.fail_under is not None and any(r.total < args.fail_under for r in reports):
        return 1
    return 0


def _class_inputs(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> dict[tuple[str, str], tuple[float, str]] | None:
    """Reads --roster, --due and --manual-grades into args.students, args.due_time and the manual
    grades returned; None after saying what is wrong with them."""
    args.students, args.due_time = (), None
    try:
        if args.roster:
            args.students = roster.read(args.roster)
        if args.due:
            args.due_time = parse_due(args.due)
    except (roster.RosterError, ValueError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return None
    if args.canvas is not None and not args.students:
        parser.error("--canvas needs --roster: Canvas finds each student by the roster's ids")
    if not args.manual_grades:
        return {}
    try:
        return manual.read(args.manual_grades)
    except (OSError, manual.ManualGradesError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return None


def _say_grader_faults(reports: list[Report]) -> None:
    """Loudly, on stderr: a grader fault is no student's result, and the run's exit status is 2."""
    for report in reports:
        faults = report.grader_faults
        if faults:
            print(
                inert.terminal(
                    f"grade: GRADER ERROR while grading {report.submission}: {len(faults)} item(s) "
                    f"not graded, the first because: {faults[0].message}"
                ),
                file=sys.stderr,
            )


def _grade_all(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    reports: list[Report],
    grades: dict[tuple[str, str], tuple[float, str]],
    figures_dir: Path,
    unpacked: Path,
) -> int:
    """Grade every path in turn into reports; a non-zero return is a set-up error."""
    # The sandbox canary runs once, before the first of several submissions. Alone, a submission's
    # own first child is the canary: if it cannot start, the report is a grader error and exit 2.
    checked = len(args.paths) == 1
    answers = ReferenceAnswers()  # the reference runs on the hidden cases once for all the paths
    for given in args.paths:
        path = given
        if given.is_file() and given.suffix == ".zip":
            try:
                path = extract_zip(given, unpacked / given.stem)
            except SubmissionError as exc:
                print(f"grade: {exc}", file=sys.stderr)
                reports.append(unreadable(str(given), args.assignment or "unknown", str(exc)))
                continue
        elif not given.is_dir():
            parser.error(f"{given} is not a folder or a .zip file")
        elif is_batch(given, bool(args.assignment)):
            code = _grade_class(given, args, reports, grades)
            if code:
                return code
            continue
        try:
            assignment, seed = _resolve(path, args)
        except SetupError as exc:
            print(f"grade: {exc}", file=sys.stderr)
            return 2
        try:
            secret_paths = (seed_file(args.hidden_seed_file).parent,) if seed is not None else ()
            handed_in = given if path != given else None
            options = _options(args, assignment, seed, secret_paths)
            if not checked:
                check_sandbox(
                    assignment, secret_paths, path, *([given] if handed_in else []), backend=backends.of(options)
                )
                checked = True
            # `grade` in the submission's own folder: the report names that folder, not ".".
            label = Path.cwd().name if given == Path(".") else str(given)
            report = grade(path, assignment, options, label, answers=answers, handed_in=handed_in)
            report = manual.merge(report, grades)
        except (SetupError, manual.ManualGradesError) as exc:
            print(f"grade: {exc}", file=sys.stderr)
            return 2
        reports.append(report)
        _say_grader_faults([report])
        write_figures(report, figures_dir)
        if not args.quiet:
            terminal.show(report)
    return 0


def _options(
    args: argparse.Namespace, assignment: Assignment, seed: str | None, secrets: tuple[Path, ...]
) -> GradeOptions:
    """The options of args; a SetupError when --only names no item of the assignment."""
    try:
        only = selection.select(assignment.rubric, selection.patterns(args.only)) if args.only else ()
    except selection.SelectionError as exc:
        raise SetupError(str(exc)) from exc
    if args.image is not None and args.backend != "container":
        raise SetupError("--image names the image of --backend container; pass both")
    image = (args.image or containers.default_image()) if args.backend == "container" else None
    return GradeOptions(
        image=image,
        only=only,
        hidden_seed=seed,
        timeout_override=args.timeout,
        dataset=args.dataset,
        data_dir=args.data_dir,
        notebooks=not args.no_notebooks,
        secrets=secrets,
    )


def _batch_assignment(folder: Path, subs: list[Submission], args: argparse.Namespace) -> str:
    if args.assignment:
        return str(args.assignment)
    for sub in subs:
        if sub.path.is_dir() and (sub.path / MARKER).is_file():
            return _assignment_name(sub.path, None)
    raise SetupError(f"no submission in {folder} has a {MARKER}; pass --assignment NAME")


def _grade_class(
    folder: Path, args: argparse.Namespace, reports: list[Report], grades: dict[tuple[str, str], tuple[float, str]]
) -> int:
    """A folder of submissions: graded in parallel, cached, with class reports in --out."""
    subs = discover(folder)
    try:
        name = _batch_assignment(folder, subs, args)
        probe = argparse.Namespace(**{**vars(args), "assignment": name})
        assignment, seed = _resolve(folder, probe, batch=True)
        secret_paths = (seed_file(args.hidden_seed_file).parent,) if seed is not None else ()
        options = _options(args, assignment, seed, secret_paths)
    except SetupError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    job = Job(assignment, options)
    settings = settings_of(assignment, options)
    mine = shards.share(subs, args.shard) if args.shard else subs
    try:
        check_sandbox(assignment, secret_paths, *(sub.path for sub in mine), backend=backends.of(options))
    except SetupError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    out = args.out
    started = time.monotonic()
    try:
        unisolated = args.allow_unisolated or os.environ.get(ALLOW_UNISOLATED_ENV) == "1"
        execute = (
            cluster.executor(args.scheduler, settings, unisolated)
            if args.scheduler
            else local(args.jobs or cpus.usable())
        )
        progress = terminal.ClassProgress(1 if args.scheduler else (args.jobs or cpus.usable()))
        try:
            batch_reports, seconds, graded = run_batch(mine, job, settings, out, execute, args.force, progress)
        except KeyboardInterrupt:
            progress.close()
            print(
                f"grade: interrupted; the {progress.done} submission(s) graded in this run are cached in {out}/cache: "
                "run the same command again to go on from there",
                file=sys.stderr,
            )
            raise _Interrupted from None
        finally:
            progress.close()
    except SetupError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    commits = commit_columns({sub.name: sub.path for sub in mine})
    cached = f"{graded} graded now, {len(mine) - graded} unchanged since the last run (cached)"
    took = f"{time.monotonic() - started:.1f} s"
    if args.shard:
        shards.write_part(out, args.shard, name, [s.name for s in subs], settings, batch_reports, seconds, commits)
        print(
            f"{folder}: shard {args.shard}, {len(mine)} of {len(subs)} submission(s), {cached}; {took}. "
            f"Part in {out}/; once every shard is graded: grade merge PART... --out grade-output"
        )
        _say_class_faults(batch_reports)
        reports.extend(batch_reports)
        return 0
    run: dict[str, object] = {
        "graded_now": graded,
        "from_cache": len(mine) - graded,
        "seconds": round(time.monotonic() - started, 1),
    }
    alike = _similarity(mine, assignment, args) if args.similarity else None
    finished = _finish_class(
        out,
        batch_reports,
        seconds,
        commits,
        args,
        grades,
        assignment.rubric.name,
        run,
        similarity_report.summary(alike) if alike is not None else None,
    )
    if finished is None:
        return 2
    reports.extend(finished)
    print(f"{folder}: {len(subs)} submission(s), {cached}; {took}. Reports in {out}/")
    terminal.class_summary(batch_summary(finished))
    if alike is not None:
        terminal.similarity_summary(alike, args.out / "similarity.html")
    _say_class_faults(batch_reports)
    # What was asked for is missing (said above): the run ends with 2 once every other output is written.
    args.similarity_failed = args.similarity and alike is None
    return 0


def _similarity(subs: list[Submission], assignment: Assignment, args: argparse.Namespace) -> similarity.Result | None:
    """The similarity of the class's code, written beside the class reports; None, said loudly, when
    it fails: a fault of the grader's that must cost neither a grade nor the class reports."""
    template = Layout(assignment.fixtures.parent.parent, assignment.rubric.name).template
    try:
        result = similarity.run(
            [(s.name, s.path) for s in subs],
            assignment.rubric,
            assignment.manifest,
            template,
            args.against,
            args.similarity_threshold,
        )
        similarity_report.write(args.out, result, assignment.rubric.name)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the grades and the class reports go on
        print(
            f"grade: the grader's error: similarity could not be computed ({type(exc).__name__}: {exc}); no "
            "similarity file was written, the grades and the class reports are not affected",
            file=sys.stderr,
        )
        return None
    return result


def _finish_class(
    out: Path,
    batch_reports: list[Report],
    seconds: dict[str, float],
    commits: dict[str, dict[str, object]],
    args: argparse.Namespace,
    grades: dict[tuple[str, str], tuple[float, str]],
    assignment: str,
    run: dict[str, object] | None = None,
    alike: dict[str, object] | None = None,
) -> list[Report] | None:
    """The class reports of a whole class (graded at once or merged from shards), with the manual
    grades, the roster and the due date of args: the reports with the manual grades in, or None after
    saying why none were written. `run` and `alike` (the similarity's pairs) go to summary.json."""
    try:
        merged = [manual.merge(r, grades) for r in batch_reports]
        problems = manual.unmatched(grades, merged, whole_class=True)
        if problems:
            raise manual.ManualGradesError(
                f"{args.manual_grades}: rows that match nothing graded (no class report written): "
                + "; ".join(problems)
                + ". The names are the submissions' folder names"
            )
    except manual.ManualGradesError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return None
    found = roster.match(args.students, [r.submission for r in merged])
    people = people_columns(commits, found if args.students else None, args.due_time)
    write_class_outputs(out, merged, seconds, people, run, alike)
    if args.canvas is not None:
        left_out = canvas.write(merged, found, args.canvas_assignment or assignment, args.canvas)
        if left_out:
            print(
                inert.terminal(
                    f"grade: {len(left_out)} submission(s) have no row in the roster and are not in {args.canvas}: "
                    f"{', '.join(left_out[:20])}{' ...' if len(left_out) > 20 else ''}"
                ),
                file=sys.stderr,
            )
    matched = set(found.values())
    absent = sorted(s.key for s in args.students if s not in matched)
    if absent:
        print(
            inert.terminal(
                f"grade: {len(absent)} student(s) of the roster have no submission: {', '.join(absent[:20])}"
            ),
            file=sys.stderr,
        )
    return merged


def _say_class_faults(batch_reports: list[Report]) -> None:
    faulty = [r.submission for r in batch_reports if r.grader_faults]
    if faulty:
        _say_grader_faults(batch_reports)
        print(
            inert.terminal(
                f"grade: {len(faulty)} submission(s) were not graded because of a grader error, not theirs: "
                f"{', '.join(faulty[:20])}{' ...' if len(faulty) > 20 else ''}. They are not cached; fix the "
                "grader's set-up and rerun to grade them"
            ),
            file=sys.stderr,
        )


def merge_main(argv: list[str]) -> int:
    """`grade merge PART... --out DIR`: the class reports of a class graded in shards."""
    parser = argparse.ArgumentParser(
        prog="grade merge",
        description="Put together the parts of a class graded with `grade SUBMISSIONS --shard K/N --out part-K`: "
        "checks that every shard is there once, graded alike, then writes the gradebook and every class report "
        "as one run would. Exit status: 0, or 2 when the parts do not make the class or a part holds a grader error.",
    )
    parser.add_argument("parts", nargs="+", type=Path, metavar="PART", help="the --out folders of the shards")
    parser.add_argument("--out", type=Path, default=Path("grade-output"), help="class reports (default: grade-output)")
    parser.add_argument(
        "--roster",
        type=Path,
        help="CSV of submission (or github_username), student_id, name, email: joined to the class reports",
    )
    parser.add_argument("--due", help="due date (ISO 8601): a late flag from each git submission's last commit")
    parser.add_argument("--manual-grades", type=Path, help="CSV of submission,id,points,comment for manual items")
    parser.add_argument("--canvas", type=Path, help="also write a CSV Canvas's gradebook imports (needs --roster)")
    parser.add_argument("--canvas-assignment", help="the Canvas column, e.g. 'HW3 (1234)' (default: the assignment)")
    args = parser.parse_args(argv)
    grades = _class_inputs(args, parser)
    if grades is None:
        return 2
    try:
        whole = shards.merge(args.parts)
    except shards.ShardError as exc:
        print(inert.terminal(f"grade merge: {exc}"), file=sys.stderr)
        return 2
    finished = _finish_class(args.out, whole.reports, whole.seconds, whole.commits, args, grades, whole.assignment)
    if finished is None:
        return 2
    print(f"{len(finished)} submission(s) from {whole.parts} shard(s); reports in {args.out}/")
    terminal.class_summary(batch_summary(finished))
    _say_class_faults(finished)
    return 2 if any(r.grader_faults for r in finished) else 0


if __name__ == "__main__":
    sys.exit(main())
