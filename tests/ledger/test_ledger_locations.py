"""Where a ledger may be: locations refused before anything runs, and ledgers that are not
there are exit 2 rather than "No findings."

- a value that looks like a URL of a store this version does not know is refused by every
  command that takes ``--ledger`` and in the config's ``ledger:``, never a folder named
  ``postgresql:``;
- a file ledger the gated repository controls (files git tracks, a symlink on the way or
  inside) is refused: a pull request could otherwise commit a forged chain;
- the state directory (queue, cache, key) must be outside the gated tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_project import Project, cli, cli_subprocess, day, git

from compliancegate.ledger.placement import gated_tree, is_inside, state_root

UNKNOWN = [
    "postgresql://db.example.com/compliance?ledger=main",
    "postgres://db/x",
    "s3://bucket/ledger",
    "https://github.com/org/repo.git",
    "ssh://git@example.com/org/repo.git",
    "git+https://example.com/r.git",
    "file:///var/lib/ledger",
    "S3://Bucket",
    "gs:",
    "",
]

COMMANDS = [
    ["check", "--env", "staging"],
    ["findings", "list"],
    ["findings", "show", "abc"],
    ["findings", "ack", "abc"],
    ["findings", "note", "abc", "--text", "t"],
    ["findings", "resolve", "abc", "--text", "t"],
    ["findings", "open", "--clause", "audit-finding", "--control", "tiny:VULN-1", "--title", "t"],
    ["ledger", "verify"],
    ["ledger", "sync"],
]


@pytest.mark.parametrize("value", UNKNOWN)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_an_unknown_store_is_refused_by_every_command(
    project: Project, command: list[str], value: str
) -> None:
    outcome = cli([*command, "--ledger", value])
    assert outcome.code == 2, outcome.output
    assert "Traceback" not in outcome.output
    # The supported forms, the git form of the URL, or the folder of a file:// URL.
    assert "git:" in outcome.output or "e.g. /var/lib/ledger" in outcome.output
    if value.startswith("postgres"):
        assert "not supported by this version" in outcome.output
    # Nothing was created: no folder named after the scheme, no ledger.
    assert sorted(p.name for p in project.root.iterdir()) == [
        "compliancegate.yaml",
        "policies",
        "registers",
        "release",
    ]


@pytest.mark.parametrize("value", UNKNOWN[:4])
def test_an_unknown_store_in_the_config_is_refused_naming_the_line(
    project: Project, value: str
) -> None:
    config = f"apiVersion: compliancegate/v1\nkind: Config\nledger: '{value}'\n"
    project.write("compliancegate.yaml", config)
    for command in (["check", "--env", "staging"], ["findings", "list"], ["ledger", "verify"]):
        outcome = cli(command)
        assert outcome.code == 2, outcome.output
        assert "compliancegate.yaml:3" in outcome.output and "ledger:" in outcome.output
    assert not list(project.root.glob("*:*"))


@pytest.mark.parametrize("value", ["git:url#main", "ledger-folder", "a:b/c", "./x:y"])
def test_known_forms_are_not_taken_for_urls(value: str) -> None:
    from compliancegate.ledger.location import scheme_problem

    assert scheme_problem(value) is None


@pytest.mark.parametrize(
    "command",
    [
        ["findings", "list"],
        ["findings", "list", "--format", "json"],
        ["findings", "show", "abc"],
        ["findings", "ack", "abc"],
        ["findings", "plan", "abc", "--file", "plan.md"],
        ["ledger", "verify"],
        ["ledger", "sync"],
    ],
    ids=lambda c: "-".join(c),
)
def test_a_ledger_that_is_not_there_is_exit_2(project: Project, command: list[str]) -> None:
    project.write("plan.md", "plan")
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging"], now=day(0)).code == 1
    outcome = cli([*command, "--ledger", ".compliancegate/ledgr"])
    assert outcome.code == 2, outcome.output
    assert "there is no ledger" in outcome.output and ".compliancegate/ledgr" in outcome.output
    assert outcome.stdout == ""
    assert not (project.root / ".compliancegate/ledgr").exists()
    # The real one answers.
    assert cli(["findings", "list"]).code == 0


def test_a_git_ledger_that_is_not_there_is_exit_2(
    project: Project, remote: Path, tmp_path: Path
) -> None:
    missing_branch = cli(["findings", "list", "--ledger", f"git:{remote}#nope"])
    assert missing_branch.code == 2 and "there is no ledger at" in missing_branch.output
    unreachable = cli(["findings", "list", "--ledger", f"git:{tmp_path}/typo.git#ledger"])
    assert unreachable.code == 2 and "no local copy" in unreachable.output
    # Once something was recorded there, an unreachable remote shows the local copy.
    location = f"git:{remote}#ledger"
    cli(["check", "--env", "staging", "--ledger", location], now=day(0))
    remote.rename(tmp_path / "gone.git")
    offline = cli(["findings", "list", "--ledger", location])
    assert offline.code == 0 and "showing the local copy" in offline.stderr


# --------------------------------------------------------------------------- placement


def repository(project: Project) -> None:
    git("init", "--quiet", "-b", "main", cwd=project.root)
    git("add", "-A", cwd=project.root)
    git("commit", "--quiet", "-m", "release", cwd=project.root)


@pytest.mark.parametrize("tracked", ["records.jsonl", "head.json", "quarantine/x.part"])
def test_a_file_ledger_committed_to_the_gated_repository_is_refused(
    project: Project, tracked: str
) -> None:
    # A genuine-looking chain (a run that found nothing), committed by the pull request.
    assert cli(["check", "--env", "staging"], now=day(0)).code == 0
    project.write(".compliancegate/ledger/quarantine/x.part", "x")
    repository(project)
    git("rm", "--quiet", "--cached", "-r", ".compliancegate", cwd=project.root)
    git("add", "-f", f".compliancegate/ledger/{tracked}", cwd=project.root)
    git("commit", "--quiet", "-m", "ledger", cwd=project.root)
    before = (project.root / ".compliancegate/ledger/records.jsonl").read_bytes()
    for command in (
        ["check", "--env", "production"],
        ["findings", "list"],
        ["ledger", "verify"],
        ["ledger", "verify", "--ledger", str(project.root / ".compliancegate/ledger")],
    ):
        outcome = cli(command, now=day(1))
        assert outcome.code == 2, (command, outcome.output)
        assert "committed to the repository" in outcome.output and tracked in outcome.output
        assert ".compliancegate/ledger" in outcome.output
    assert (project.root / ".compliancegate/ledger/records.jsonl").read_bytes() == before
    # Out of the repository again, it is this machine's ledger.
    git("rm", "--quiet", "--cached", "-r", ".compliancegate", cwd=project.root)
    assert cli(["check", "--env", "staging"], now=day(2)).code == 0


def test_an_untracked_ledger_in_a_repository_is_accepted(project: Project) -> None:
    repository(project)
    assert cli(["check", "--env", "staging"], now=day(0)).code == 0
    assert cli(["check", "--env", "staging"], now=day(1)).code == 0
    assert cli(["ledger", "verify"]).code == 0


@pytest.mark.parametrize("link", ["folder", "parent", "records", "head", "lock"])
@pytest.mark.parametrize("in_repository", [True, False], ids=["git", "plain"])
def test_a_symlink_to_or_in_the_ledger_folder_is_refused(
    project: Project, tmp_path: Path, link: str, in_repository: bool
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "target"
    target.write_bytes(b"do not touch\n")
    ledger = project.root / ".compliancegate" / "ledger"
    if link == "folder":
        ledger.parent.mkdir()
        ledger.symlink_to(elsewhere, target_is_directory=True)
    elif link == "parent":
        (project.root / ".compliancegate").symlink_to(elsewhere, target_is_directory=True)
    else:
        ledger.mkdir(parents=True)
        name = {"records": "records.jsonl", "head": "head.json", "lock": "lock"}[link]
        (ledger / name).symlink_to(target)
    if in_repository:
        repository(project)
    for command in (["check", "--env", "staging"], ["findings", "list"], ["ledger", "verify"]):
        outcome = cli(command, now=day(0))
        assert outcome.code == 2, (command, outcome.output)
        assert "symlink" in outcome.output
    assert target.read_bytes() == b"do not touch\n"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["target"]


def test_a_ledger_outside_the_tree_may_be_reached_through_a_symlink(
    project: Project, tmp_path: Path
) -> None:
    # Outside the gated tree the path is the runner's own business (e.g. /srv -> /data).
    real = tmp_path / "data" / "ledger"
    real.mkdir(parents=True)
    (tmp_path / "srv").symlink_to(tmp_path / "data", target_is_directory=True)
    location = str(tmp_path / "srv" / "ledger")
    assert cli(["check", "--env", "staging", "--ledger", location], now=day(0)).code == 0
    assert (real / "records.jsonl").exists()


@pytest.mark.parametrize("how", ["inside", "symlink-into", "xdg-inside"])
def test_the_state_directory_must_be_outside_the_gated_tree(
    project: Project, remote: Path, tmp_path: Path, how: str
) -> None:
    repository(project)
    env: dict[str, str] = {}
    if how == "inside":
        env["COMPLIANCEGATE_STATE_DIR"] = str(project.root / "state")
    elif how == "symlink-into":
        (tmp_path / "state-link").symlink_to(project.root, target_is_directory=True)
        env["COMPLIANCEGATE_STATE_DIR"] = str(tmp_path / "state-link" / "state")
    else:
        env["COMPLIANCEGATE_STATE_DIR"] = ""
        env["XDG_STATE_HOME"] = str(project.root / "xdg")
    outcome = cli(["check", "--env", "staging", "--ledger", f"git:{remote}#ledger"], **env)
    assert outcome.code == 2, outcome.output
    assert "COMPLIANCEGATE_STATE_DIR" in outcome.output
    assert "inside the repository" in outcome.output
    assert not remote.joinpath("refs/heads/ledger").exists()
    assert not (project.root / "state").exists() and not (project.root / "xdg").exists()


def test_the_state_directory_defaults() -> None:
    assert state_root({"COMPLIANCEGATE_STATE_DIR": "/s", "XDG_STATE_HOME": "/x"}) == Path("/s")
    assert state_root({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/x/compliancegate")
    # A relative XDG_STATE_HOME is invalid by the XDG spec and ignored.
    assert state_root({"XDG_STATE_HOME": "x", "HOME": "/h"}) == Path(
        "/h/.local/state/compliancegate"
    )
    assert state_root({"HOME": "/h"}) == Path("/h/.local/state/compliancegate")


def test_the_gated_tree_is_the_repository_holding_the_working_directory(
    project: Project, tmp_path: Path
) -> None:
    assert gated_tree(project.root / "release") == project.root / "release"
    repository(project)
    assert gated_tree(project.root / "release") == project.root
    assert is_inside(project.root / "a" / "b", project.root)
    assert not is_inside(tmp_path / "other", project.root)
    os.symlink(project.root, tmp_path / "alias")
    assert is_inside(tmp_path / "alias" / "x", project.root)


def test_a_ledger_folder_brought_by_a_submodule_is_refused(
    project: Project, tmp_path: Path
) -> None:
    # The pull request adds a submodule at .compliancegate whose ledger/ holds a forged
    # chain: git tracks those files in the submodule, not in the gated repository's index.
    forged = tmp_path / "forged"
    assert cli(["check", "--env", "staging", "--ledger", str(forged / "ledger")]).code == 0
    git("init", "--quiet", "-b", "main", cwd=forged)
    git("add", "-A", cwd=forged)
    git("commit", "--quiet", "-m", "ledger", cwd=forged)
    repository(project)
    git("-c", "protocol.file.allow=always", "submodule", "add", "--quiet", str(forged),
        ".compliancegate", cwd=project.root)  # fmt: skip
    git("commit", "--quiet", "-m", "submodule", cwd=project.root)
    assert (project.root / ".compliancegate/ledger/records.jsonl").exists()
    for command in (["check", "--env", "staging"], ["findings", "list"], ["ledger", "verify"]):
        outcome = cli(command, now=day(1))
        assert outcome.code == 2, (command, outcome.output)
        assert "committed to the repository" in outcome.output


def test_outside_a_repository_the_state_directory_may_be_under_the_working_directory(
    project: Project, remote: Path
) -> None:
    # As in a container whose working directory is /: every state directory is below it.
    state = project.root / "home" / ".local" / "state"
    outcome = cli(
        ["check", "--env", "staging", "--ledger", f"git:{remote}#ledger"],
        COMPLIANCEGATE_STATE_DIR=str(state),
    )
    assert outcome.code == 0, outcome.output
    assert remote.joinpath("refs/heads/ledger").exists() and state.is_dir()


def test_refusals_through_a_process(project: Project, remote: Path) -> None:
    unknown = cli_subprocess(["findings", "list", "--ledger", "s3://bucket/ledger"], project.root)
    assert unknown.code == 2 and "s3://" in unknown.stderr and "Traceback" not in unknown.output
    typo = cli_subprocess(["findings", "list", "--ledger", "ledgr"], project.root)
    assert typo.code == 2 and "there is no ledger at ledgr" in typo.stderr
    budget = cli_subprocess(
        ["check", "--env", "staging", "--ledger", f"git:{remote}#ledger"],
        project.root,
        COMPLIANCEGATE_STATE_DIR=".state",
        COMPLIANCEGATE_LEDGER_RETRY_SECONDS="soon",
    )
    assert budget.code == 2 and "COMPLIANCEGATE_LEDGER_RETRY_SECONDS" in budget.stderr
    assert "Traceback" not in budget.output


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,15}", fullmatch=True).filter(
        lambda s: s.lower() != "git"
    ),
    rest=st.text(max_size=40),
)
def test_every_url_scheme_but_git_is_refused(scheme: str, rest: str) -> None:
    from compliancegate.ledger.location import scheme_problem

    assert scheme_problem(f"{scheme}://{rest}") is not None
    assert scheme_problem(f"{scheme}:") is not None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters=":\x00"), min_size=1, max_size=40))
def test_paths_without_a_colon_are_folders(path: str) -> None:
    from compliancegate.ledger.location import scheme_problem

    assert scheme_problem(path) is None or not path.strip()


def test_a_git_ledger_at_a_path_that_is_not_utf8(project: Project, tmp_path: Path) -> None:
    """A remote folder whose name holds a byte that is not UTF-8 (Python carries it as a lone
    surrogate): the run is recorded and verified, not an internal error."""
    remote = tmp_path / os.fsdecode(b"remote-\xff.git")
    git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    location = f"git:{remote}#ledger"
    outcome = cli(["check", "--env", "staging", "--ledger", location], now=day(0))
    assert outcome.code == 0, outcome.output
    verified = cli(["ledger", "verify", "--ledger", location])
    assert verified.code == 0, verified.output
    assert "record(s) verified" in verified.stdout
