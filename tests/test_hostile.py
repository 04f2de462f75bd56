"""Hostile and broken submissions: the grader finishes, zeroes the affected items only, keeps every
other item's score, and says what happened. One folder per attack under tests/hostile/."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from bugs import TEST_SEED, apply_spec, check_golden, comparable
from conftest import ROOT

from grader import cli
from grader.engine import Assignment, ReferenceAnswers, grade, load_assignment
from grader.isolation import level
from grader.options import GradeOptions
from grader.project import Layout
from grader.results import GRADER_ERROR, Report

HOSTILE = ROOT / "tests" / "hostile"
LAYOUT = Layout(ROOT, "nndl")
NAMES = sorted(p.name for p in HOSTILE.iterdir() if (p / "attack.toml").is_file())
# Files an attack tries to leave where every user can write; none may remain after grading.
MARKERS = (
    "/tmp/sitecustomize-ran",
    "/tmp/usercustomize-ran",
    "/tmp/pth-ran",
    "/tmp/pwned-by-pickle",
    "/var/tmp/pwned.txt",
    "/root/pwned.txt",
)


def spec(name: str) -> dict:
    return tomllib.loads((HOSTILE / name / "attack.toml").read_text())


def stopped_here(name: str) -> bool:
    """Whether this host's isolation level stops the attack: an attack that only an operating-system
    sandbox stops names the levels that do (`stopped_by`)."""
    return level() in spec(name).get("stopped_by", [level()])


@pytest.fixture(scope="module")
def secret_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "hidden-seed"
    path.write_text(TEST_SEED)
    return path


@pytest.fixture(scope="module")
def instructor() -> Assignment:
    return load_assignment(LAYOUT.fixtures, LAYOUT.reference)


class Listener:
    """A TCP server on 127.0.0.1 that records whatever any connection sends it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(1024))
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def build(name: str, dest: Path, seed_file: Path, listener_port: int = 9) -> Path:
    """The attack's submission at dest, with a classmate's file beside it to steal from."""
    classmate = dest.parent / "classmate_layers.py"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LAYOUT.reference / "nndl" / "layers.py", classmate)
    return apply_spec(
        spec(name),
        dest,
        name,
        {
            "PROJECT": str(ROOT),
            "REFERENCE": str(LAYOUT.reference),
            "FIXTURES": str(LAYOUT.fixtures),
            "SEED_FILE": str(seed_file),
            "CLASSMATE": str(classmate),
            "LISTENER_PORT": str(listener_port),
        },
    )


def attack_options(attack: dict, seed_folder: Path, image: str | None = None) -> GradeOptions:
    """How an attack is graded: instructor mode, module items, its own time limit if it has one, the
    seed's folder hidden, in containers of `image` if given."""
    return GradeOptions(
        hidden_seed=TEST_SEED,
        timeout_override=attack.get("timeout"),
        notebooks=False,
        secrets=(seed_folder,),
        image=image,
    )


def check_losses(name: str, attack: dict, report: Report) -> None:
    """The attack loses the items it names, each with a message and its status if the attack gives
    one, and every other item passes."""
    losers = {i.id for i in report.items if i.points < i.max_points}
    assert losers == set(attack["loses"]), f"{name}: lost {sorted(losers)}"
    by_id = {i.id: i for i in report.items}
    for item in report.items:
        if item.id in losers:
            assert item.message, item
        else:
            assert item.status == "pass", item
    for item_id, status in attack.get("statuses", {}).items():
        assert by_id[item_id].status == status, by_id[item_id]


def test_the_corpus_has_at_least_50_attacks() -> None:
    assert len(NAMES) >= 50


@pytest.mark.parametrize("name", NAMES)
def test_attack(
    name: str,
    tmp_path: Path,
    instructor: Assignment,
    secret_seed: Path,
    listener: Listener,
    request: pytest.FixtureRequest,
    shared_answers: ReferenceAnswers,
) -> None:
    attack = spec(name)
    if not stopped_here(name):
        pytest.skip(
            f"this attack is stopped at the levels {', '.join(attack['stopped_by'])} only, and this host "
            f"grades at the level {level()!r} (see the README's security model)"
        )
    submission = build(name, tmp_path / name, secret_seed, listener.port)
    received = len(listener.received)
    report = grade(submission, instructor, attack_options(attack, secret_seed.parent), answers=shared_answers)
    check_losses(name, attack, report)
    by_id = {i.id: i for i in report.items}
    # A hidden file is missing under bubblewrap, unreadable for a dedicated user.
    for item_id, text in attack.get("messages_at", {}).get(level(), attack.get("messages", {})).items():
        assert text in by_id[item_id].message, by_id[item_id]
    for text in attack.get("notes", []):
        assert any(text in n for n in report.notes), report.notes
    for marker in MARKERS:  # /root/pwned.txt cannot even be looked for by another user, nor written
        assert not os.path.exists(marker), marker
    assert not (ROOT / "pwned.txt").exists()
    assert listener.received[received:] == [], "a child reached the network"
    if "stopped_by" not in attack:  # how an attack is stopped (so its messages) depends on the level
        check_golden(HOSTILE / name / "expected.json", report.to_dict(), request.config.getoption("--regen-golden"))


def _zip(path: Path, members: list[tuple[str, bytes]], link: str | None = None) -> Path:
    import stat
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo("nndl/link.py")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, link)
    return path


@pytest.mark.parametrize(
    "kind, members, link, message",
    [
        ("dot_dot", [("../../escaped.py", b"x = 1")], None, "unsafe path: '../../escaped.py'"),
        ("absolute", [("/tmp/escaped-abs.py", b"x = 1")], None, "unsafe path: '/tmp/escaped-abs.py'"),
        ("bomb", [(f"nndl/zeros{i}.bin", b"\0" * (60 * 1024**2)) for i in range(4)], None, "zip bomb"),
        ("link", [("grade.toml", b'assignment = "nndl"\n')], "/etc/passwd", "contains a link"),
        (
            "conflicting_members",
            [("nndl/layers.py", b"x = 1"), ("nndl/layers.py/inner.py", b"y = 2")],
            None,
            "cannot extract 'nndl/layers.py/inner.py'",
        ),
    ],
)
def test_unsafe_zips_are_refused_with_a_reason_and_the_batch_goes_on(
    kind: str,
    members: list[tuple[str, bytes]],
    link: str | None,
    message: str,
    tmp_path: Path,
    secret_seed: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = _zip(tmp_path / f"{kind}.zip", members, link)
    clean = apply_spec({}, tmp_path / "clean", "clean")
    out = tmp_path / "r.json"
    assert (
        cli.main(
            [
                str(archive),
                str(clean),
                "--reference",
                str(LAYOUT.reference),
                "--fixtures",
                str(LAYOUT.fixtures),
                "--hidden-seed-file",
                str(secret_seed),
                "--no-notebooks",
                "--quiet",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    reports = json.loads(out.read_text())
    assert reports[0]["total"] == 0 and message in reports[0]["items"][0]["message"]
    assert reports[1]["total"] == 58
    assert not (tmp_path.parent / "escaped.py").exists() and not Path("/tmp/escaped-abs.py").exists()


def test_a_zipped_submission_is_graded_like_its_folder(tmp_path: Path, secret_seed: Path) -> None:
    folder = apply_spec({}, tmp_path / "alice", "alice")
    members = [
        (f"alice/{p.relative_to(folder).as_posix()}", p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()
    ]
    archive = _zip(tmp_path / "alice.zip", members)
    out = tmp_path / "r.json"
    assert (
        cli.main(
            [
                str(archive),
                "--reference",
                str(LAYOUT.reference),
                "--fixtures",
                str(LAYOUT.fixtures),
                "--hidden-seed-file",
                str(secret_seed),
                "--no-notebooks",
                "--quiet",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["total"] == 58


def _zipped(folder: Path, to: Path) -> Path:
    """A submission folder as an LMS export holds it: a zip of one folder named for the student."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return _zip(to, [(f"{folder.name}/{p.relative_to(folder).as_posix()}", p.read_bytes()) for p in files])


@pytest.mark.parametrize("alone", [False, True], ids=["in_a_batch", "graded_alone"])
def test_a_zipped_submission_cannot_read_its_classmates_zips_and_is_flagged_for_trying(
    alone: bool, tmp_path: Path, secret_seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class handed in as zips lies in one folder, as an LMS exports it: that folder is hidden from
    each child as the folder of a class of folders is, wherever it lies (here outside the temp folder,
    which the sandbox replaces anyway), and opening a classmate's zip is an integrity flag. Where a
    user of its own per child hides by permissions, a class folder every user can read is refused."""
    if level() == "none":
        pytest.skip("at the level none nothing is hidden from a child (see the README's security model)")
    # Readable by every user, as a class folder a TA shares would be, so that only hiding stops a child.
    folder = Path(tempfile.mkdtemp(prefix="nn-grader-zips-", dir="/var/tmp")).resolve()
    folder.chmod(0o755)
    try:
        _zipped(apply_spec({}, tmp_path / "alice", "alice"), folder / "alice.zip")
        attack = {"replace": spec("reads_a_classmates_submission")["replace"]}
        attack["replace"][0]["new"] = attack["replace"][0]["new"].replace("{CLASSMATE}", str(folder / "alice.zip"))
        _zipped(apply_spec(attack, tmp_path / "mallory", "mallory"), folder / "mallory.zip")
        out = tmp_path / "r.json"
        args = ["--reference", str(LAYOUT.reference), "--fixtures", str(LAYOUT.fixtures), "--hidden-seed-file",
                str(secret_seed), "--no-notebooks", "--quiet", "--json", str(out)]  # fmt: skip
        batch = [str(folder), *args, "--assignment", "nndl", "--jobs", "1", "--out", str(tmp_path / "out")]
        code = cli.main([str(folder / "mallory.zip"), *args] if alone else batch)
        if level() == "user":
            assert code == 2 and f"the sandbox can read {folder}/alice.zip" in capsys.readouterr().err
            return
        assert code == 0
        if alone:
            mallory = json.loads(out.read_text())
        else:
            reports = {r["submission"]: r for r in json.loads(out.read_text())}
            assert reports["alice"]["total"] == 58
            mallory = reports["mallory"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    affine = next(i for i in mallory["items"] if i["id"] == "nndl.layers:affine_forward")
    assert affine["points"] == 0
    assert "FileNotFoundError" in affine["message"]
    assert any(f"opened {folder}/alice.zip, which the grader hides" in f for f in mallory["flags"]), mallory["flags"]


@pytest.fixture(scope="module")
def clean_alone(tmp_path_factory: pytest.TempPathFactory, secret_seed: Path) -> dict[str, dict]:
    """Two clean submissions (one right, one with a known bug) and, by the per-case limit given
    ("" for the default ones), the report each gets when graded alone."""
    base = tmp_path_factory.mktemp("clean")
    bug = tomllib.loads((ROOT / "tests" / "submissions" / "fails_nesterov_is_plain_momentum" / "bug.toml").read_text())
    paths = {"clean_a": apply_spec({}, base / "class" / "clean_a", "clean_a")}
    paths["clean_b"] = apply_spec(bug, base / "class" / "clean_b", "clean_b")
    reports: dict[str, dict] = {}
    for limit in ("", "1.5"):
        out = base / f"alone{limit}.json"
        args = [str(base / "class"), "--reference", str(LAYOUT.reference), "--fixtures", str(LAYOUT.fixtures)]
        args += ["--hidden-seed-file", str(secret_seed), "--no-notebooks", "--quiet", "--json", str(out)]
        args += ["--out", str(base / f"out{limit}"), *(["--timeout", limit] if limit else [])]
        assert cli.main(args) == 0
        reports[limit] = {r["submission"]: comparable(r) for r in json.loads(out.read_text())}
    return {"paths": paths, "reports": reports}


@pytest.mark.parametrize("timed", [False, True], ids=["default_limits", "per_case_limit_1.5s"])
def test_the_whole_corpus_in_a_jobs_2_batch(
    timed: bool, tmp_path: Path, secret_seed: Path, listener: Listener, clean_alone: dict
) -> None:
    """Every attack graded among the others and two clean submissions, two at a time: the batch
    completes, each attack gets exactly its report when graded alone, and the clean ones get exactly
    the reports they get alone. The attacks that set a per-case limit share one batch with that limit."""
    names = [n for n in NAMES if bool(spec(n).get("timeout")) == timed and stopped_here(n)]
    assert {spec(n).get("timeout") for n in names} <= {None, 1.5}
    batch = tmp_path / "class"
    for name in names:
        build(name, batch / name, secret_seed, listener.port)
    for name, path in clean_alone["paths"].items():
        shutil.copytree(path, batch / name)
    out = tmp_path / "r.json"
    received = len(listener.received)
    args = [
        str(batch),
        "--reference",
        str(LAYOUT.reference),
        "--fixtures",
        str(LAYOUT.fixtures),
        "--hidden-seed-file",
        str(secret_seed),
        "--no-notebooks",
        "--quiet",
        "--jobs",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--json",
        str(out),
        *(["--timeout", "1.5"] if timed else []),
    ]
    assert cli.main(args) == 0
    reports = {r["submission"]: r for r in json.loads(out.read_text())}
    assert set(reports) == {*names, "clean_a", "clean_b"}
    assert reports["clean_a"]["total"] == 58 and reports["clean_b"]["total"] == 57
    alone = clean_alone["reports"]["1.5" if timed else ""]
    assert {n: comparable(reports[n]) for n in ("clean_a", "clean_b")} == alone
    for name in names:
        report = reports[name]
        losers = {i["id"] for i in report["items"] if i["points"] < i["max_points"]}
        assert losers == set(spec(name)["loses"]), f"{name}: lost {sorted(losers)}"
        golden = HOSTILE / name / "expected.json"
        if "stopped_by" not in spec(name):
            assert comparable(report) == json.loads(golden.read_text()), name
    assert listener.received[received:] == []


def test_a_submission_lying_in_the_temp_folder_is_flagged_for_a_classmate_not_for_its_own_files(
    instructor: Assignment, secret_seed: Path, shared_answers: ReferenceAnswers
) -> None:
    """The folder holding the submissions is hidden (it holds the classmates' work): when that is the
    temp folder, the child's own scratch copy and inputs lie in it too, and opening those is no
    integrity flag; opening a classmate's file beside it still is."""
    base = Path(tempfile.gettempdir()).resolve() / f"nn-grader-test-{os.getpid()}-{threading.get_ident()}"
    classmate = Path(f"{base}-classmate")
    try:
        apply_spec({}, classmate, "classmate")
        options = GradeOptions(hidden_seed=TEST_SEED, notebooks=False, secrets=(secret_seed.parent,))
        honest = apply_spec({}, base, "correct")
        assert honest.parent == Path(tempfile.gettempdir()).resolve()
        report = grade(honest, instructor, options, answers=shared_answers)
        if level() == "user":
            # A user of its own per child hides by permissions, and nobody can take /tmp from a user:
            # the grader refuses to start, as its own fault, rather than grade with the class exposed.
            assert report.grader_faults and all(i.status == GRADER_ERROR for i in report.items)
            assert f"the sandbox can read {honest.parent}" in report.items[0].message
            return
        assert report.total == report.max_total, [i.message for i in report.items][:1]
        assert report.flags == () and not [n for n in report.notes if "hides from submissions" in n]
        shutil.rmtree(base)
        attack = {"replace": spec("reads_a_classmates_submission")["replace"]}
        attack["replace"][0]["new"] = attack["replace"][0]["new"].replace("{CLASSMATE}", str(classmate / "grade.toml"))
        copier = apply_spec(attack, base, "copier")
        report = grade(copier, instructor, options, answers=shared_answers)
        assert any(f"opened {classmate}/grade.toml, which the grader hides" in n for n in report.notes), report.notes
        assert not [n for n in report.notes if f"opened {base}/" in n or "/grade-" in n], report.notes
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(classmate, ignore_errors=True)
