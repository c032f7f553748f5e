"""Report paths (``--output``, ``--report FORMAT=FILE``, the config's ``reports:``): never
written through a symlink to a file or below a symlinked folder of the checkout, and never
two reports to one file; each refusal happens before the run (exit 2, nothing evaluated,
written or recorded). Devices and pipes are written through."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.cli.output import check_target, write_file
from compliancegate.errors import UsageError

VICTIM = "precious\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A regular file outside the project that a planted symlink points at."""
    path = tmp_path.parent / f"{tmp_path.name}-victim" / "authorized_keys"
    path.parent.mkdir()
    path.write_text(VICTIM)
    return path


def _assert_refused(outcome: Any, root: Path, *words: str) -> None:
    assert outcome.code == 2, outcome.output
    assert "Traceback" not in outcome.output
    for word in words:
        assert word in outcome.stderr, outcome.stderr
    assert not (root / ".compliancegate").exists(), "the run was recorded"


def _config(root: Path, reports: dict[str, str]) -> None:
    lines = "".join(f"  {fmt}: {path}\n" for fmt, path in reports.items())
    (root / "compliancegate.yaml").write_text(
        f"apiVersion: compliancegate/v1\nkind: Config\nreports:\n{lines}"
    )


Plant = Callable[[Path, Path], None]


def _link_to_victim(link: Path, victim: Path) -> None:
    link.symlink_to(victim)


def _chain_to_victim(link: Path, victim: Path) -> None:
    middle = link.with_name(link.name + ".middle")
    middle.symlink_to(victim)
    link.symlink_to(middle.name)


def _dangling(link: Path, victim: Path) -> None:
    link.symlink_to(victim.with_name("not-yet-there"))


def _to_folder(link: Path, victim: Path) -> None:
    link.symlink_to(victim.parent, target_is_directory=True)


PLANTS = {
    "to-a-file": _link_to_victim,
    "chain-to-a-file": _chain_to_victim,
    "dangling": _dangling,
    "to-a-folder": _to_folder,
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
@pytest.mark.parametrize("via", ["output", "report", "config"])
def test_a_planted_symlink_is_never_written_through(
    gate_project: Any, cg: Any, victim: Path, plant: str, via: str
) -> None:
    root: Path = gate_project.root
    (root / "out").mkdir()
    PLANTS[plant](root / "out" / "gate.json", victim)
    args = ["check", "release"]
    if via == "output":
        args += ["--format", "json", "--output", "out/gate.json"]
    elif via == "report":
        args += ["--report", "json=out/gate.json"]
    else:
        _config(root, {"json": "out/gate.json"})
    outcome = cg(*args)
    _assert_refused(outcome, root, "out/gate.json")
    assert victim.read_text() == VICTIM
    assert not victim.with_name("not-yet-there").exists()
    assert sorted(p.name for p in victim.parent.iterdir()) == ["authorized_keys"]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_symlinked_folder_of_the_checkout_is_refused(
    gate_project: Any, cg: Any, victim: Path, depth: int
) -> None:
    """``reports/`` (or a folder below it) planted as a link to a folder elsewhere."""
    root: Path = gate_project.root
    folders = ["reports", "ci", "gate"][:depth]
    parent = root.joinpath(*folders[:-1])
    parent.mkdir(parents=True, exist_ok=True)
    (parent / folders[-1]).symlink_to(victim.parent, target_is_directory=True)
    target = "/".join([*folders, "authorized_keys"])
    through = "/".join([*folders, "..", folders[-1], "authorized_keys"])
    for spelling in (target, str(root / target), through, f"{folders[0]}/../{target}"):
        outcome = cg("check", "release", "--report", f"text={spelling}")
        _assert_refused(outcome, root, "symlink")
    assert victim.read_text() == VICTIM


def test_a_real_file_and_folders_are_written_and_replaced(gate_project: Any, cg: Any) -> None:
    root: Path = gate_project.root
    (root / "out").mkdir()
    (root / "out" / "gate.json").write_text("old")
    outcome = cg("check", "release", "--no-ledger", "--report", "json=out/gate.json")
    assert outcome.code == 0, outcome.output
    assert '"kind": "CheckReport"' in (root / "out" / "gate.json").read_text()


def test_a_symlink_to_a_fifo_is_written_through(gate_project: Any) -> None:
    from compliancegate.cli import run

    root: Path = gate_project.root
    fifo = root.parent / f"{root.name}-pipe"
    os.mkfifo(fifo)
    (root / "gate.json").symlink_to(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    code = run(["check", "release", "--no-ledger", "--report", "json=gate.json"])
    reader.join(timeout=30)
    assert code == 0
    assert (root / "gate.json").is_symlink()
    assert '"kind": "CheckReport"' in received[0]


def test_devices_are_written_through(gate_project: Any, cg_subprocess: Any) -> None:
    root: Path = gate_project.root
    outcome = cg_subprocess(
        [
            "check",
            "release",
            "--no-ledger",
            "--output",
            "/dev/null",
            "--report",
            "json=/dev/stdout",
        ],
        root,
    )
    assert outcome.code == 0, outcome.output
    assert '"kind": "CheckReport"' in outcome.stdout


# --------------------------------------------------------------------------- one file, one report


def _spellings(root: Path) -> list[tuple[str, str]]:
    """Pairs of different spellings of one file."""
    (root / "out").mkdir(exist_ok=True)
    (root / "out" / "existing.json").write_text("{}")
    os.link(root / "out" / "existing.json", root / "out" / "hardlink.json")
    return [
        ("out/a.json", "out/a.json"),
        ("out/a.json", "./out/../out/a.json"),
        ("out/a.json", str(root / "out" / "a.json")),
        ("out//a.json", "out/./a.json"),
        ("out/existing.json", "out/hardlink.json"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_two_reports_to_one_file_are_refused(gate_project: Any, cg: Any, case: int) -> None:
    root: Path = gate_project.root
    first, second = _spellings(root)[case]
    for args in (
        ["--report", f"json={first}", "--report", f"junit={second}"],
        ["--report", f"json={first}", "--report", f"json={second}"],
        ["--output", first, "--report", f"sarif={second}"],
    ):
        outcome = cg("check", "release", *args)
        _assert_refused(outcome, root, "same file")
    assert not (root / "out" / "a.json").exists()
    assert (root / "out" / "existing.json").read_text() == "{}"


def test_a_report_to_standard_output_without_output_is_refused(
    gate_project: Any, cg_subprocess: Any
) -> None:
    root: Path = gate_project.root
    for target in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        outcome = cg_subprocess(["check", "release", "--report", f"json={target}"], root)
        _assert_refused(outcome, root, "standard output")


def test_stdout_redirected_into_a_report_file_is_refused(gate_project: Any) -> None:
    root: Path = gate_project.root
    env = {**os.environ, "NO_COLOR": "1", "COMPLIANCEGATE_NOW": "2026-11-21T12:00:00Z"}
    with (root / "gate.txt").open("w") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "compliancegate", "check", "release", "--report=text=gate.txt"],
            cwd=root,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            check=False,
        )
    assert done.returncode == 2
    assert b"same file" in done.stderr
    assert not (root / ".compliancegate").exists()


def test_dev_null_may_take_several_reports(gate_project: Any, cg: Any) -> None:
    outcome = cg(
        "check",
        "release",
        "--no-ledger",
        "--output",
        "/dev/null",
        "--report",
        "json=/dev/null",
        "--report",
        "sarif=/dev/null",
    )
    assert outcome.code == 0, outcome.output


def test_the_config_may_not_name_one_file_twice(gate_project: Any, cg: Any) -> None:
    root: Path = gate_project.root
    _config(root, {"json": "out/r", "junit": "./out/r"})
    _assert_refused(cg("check", "release"), root, "same file")


def test_a_flag_replaces_the_configs_report_to_the_same_file(gate_project: Any, cg: Any) -> None:
    root: Path = gate_project.root
    _config(root, {"json": "out/r", "junit": "out/other.xml"})
    outcome = cg("check", "release", "--no-ledger", "--report", "sarif=./out/r")
    assert outcome.code == 0, outcome.output
    assert '"$schema"' in (root / "out" / "r").read_text()
    assert (root / "out" / "other.xml").exists()


def test_a_symlink_planted_during_the_run_is_not_followed(tmp_path: Path, victim: Path) -> None:
    """The tree may change between the check before the run and the write after it."""
    target = tmp_path / "gate.json"
    check_target(target)
    target.symlink_to(victim)
    with pytest.raises(UsageError, match="symlink"):
        write_file(target, "report")
    assert victim.read_text() == VICTIM


def test_a_link_followed_by_dotdot_is_refused(gate_project: Any, cg: Any, victim: Path) -> None:
    """``link/../x`` is written beside the link's target, not beside the link."""
    root: Path = gate_project.root
    inner = victim.parent / "inner"
    inner.mkdir()
    (root / "out").symlink_to(inner, target_is_directory=True)
    outcome = cg("check", "release", "--report", "text=out/../authorized_keys")
    _assert_refused(outcome, root, "symlink")
    assert victim.read_text() == VICTIM


def test_symlinked_folders_outside_the_working_directory_are_the_runners(
    gate_project: Any, cg: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``$RUNNER_TEMP``-style paths outside the checkout may go through links."""
    outside = tmp_path_factory.mktemp("runner-temp")
    (outside / "real").mkdir()
    (outside / "linked").symlink_to(outside / "real", target_is_directory=True)
    outcome = cg("check", "release", "--no-ledger", "--report", f"json={outside}/linked/r.json")
    assert outcome.code == 0, outcome.output
    assert (outside / "real" / "r.json").is_file()


def _respell(parts: list[str], noise: list[int], absolute: bool, root: Path) -> str:
    """``parts`` joined with ``./``, ``dir/..`` and doubled slashes inserted where ``noise``
    says (0 nothing, 1 ``./``, 2 ``sub/../``, 3 ``//``)."""
    out: list[str] = []
    for index, part in enumerate(parts):
        kind = noise[index % len(noise)] if noise else 0
        if kind == 1:
            out.append(".")
        elif kind == 2 and index < len(parts) - 1:
            out += [parts[index], ".."]
        elif kind == 3 and index > 0:
            out.append("")
        out.append(part)
    text = "/".join(out)
    return str(root / text) if absolute else text


@given(
    first=st.lists(st.integers(0, 3), max_size=4),
    second=st.lists(st.integers(0, 3), max_size=4),
    absolute=st.booleans(),
    exists=st.booleans(),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_two_spellings_of_one_file_are_one_target(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: list[int],
    second: list[int],
    absolute: bool,
    exists: bool,
) -> None:
    from compliancegate.cli.output import check_targets

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "sub").mkdir(parents=True, exist_ok=True)
    target = tmp_path / "out" / "sub" / "r.json"
    if exists:
        target.write_text("{}")
    else:
        target.unlink(missing_ok=True)
    parts = ["out", "sub", "r.json"]
    a = Path(_respell(parts, first, False, tmp_path))
    b = Path(_respell(parts, second, absolute, tmp_path))
    with pytest.raises(UsageError, match="same file"):
        check_targets([("first", a), ("second", b)], to_stdout=False)
    other = Path(_respell(["out", "sub", "other.json"], second, absolute, tmp_path))
    check_targets([("first", a), ("other", other)], to_stdout=False)
