"""The ``git`` kind on real repositories built in ``tmp_path``: commit, branch (and the CI
fallback when detached), tags, author and committer, changed files since the previous tag or
a given base, a dirty tree, signatures verified by git itself (SSH signing when ssh-keygen is
present), a sanitized environment, the store's ``input: git``, and ``--git-base``.

Hermetic: HOME is a fresh folder, inherited ``GIT_*`` and CI variables are removed, and the
commits are made with pinned author and committer identities and dates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline_corpus import gate

from compliancegate.artifacts import git as git_format
from compliancegate.artifacts.git import read_repository
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.check import CheckOptions, resolve
from compliancegate.cli import run
from compliancegate.errors import ArtifactError
from compliancegate.model import Decision, InputSpec, Status

AUTHOR_DATE = "2024-01-02T03:04:05+00:00"
COMMITTER_DATE = "2024-01-02T04:05:06+01:00"
CI_VARIABLES = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "GITHUB_REF_TYPE",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_TAG",
)


def git_version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    assert match is not None
    return tuple(int(part) for part in match.groups())


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME in tmp_path; no inherited GIT_* or CI variables; tmp_path is the working dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in list(os.environ):
        if variable.startswith("GIT_") or variable in CI_VARIABLES:
            monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    return home


def git(cwd: Path, *args: str) -> str:
    """Run git as a test's setup step: pinned identities and dates, no user config."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_AUTHOR_DATE": AUTHOR_DATE,
        "GIT_COMMITTER_NAME": "Cy Committer",
        "GIT_COMMITTER_EMAIL": "cy@example.com",
        "GIT_COMMITTER_DATE": COMMITTER_DATE,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)
    return done.stdout.decode().strip()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: "first" (a.txt, docs/x.md) tagged v1.0 (annotated), then "second" (a.txt
    changed, b.txt added, docs/x.md removed)."""
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root / "a.txt", "one\n")
    write(root / "docs" / "x.md", "# x\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    git(root, "tag", "-a", "v1.0", "-m", "release 1.0")
    write(root / "a.txt", "two\n")
    write(root / "b.txt", "new\n")
    (root / "docs" / "x.md").unlink()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second\n\nwith a body")
    return root


def read(path: Path, base: str | None = None) -> dict[str, Any]:
    artifact = read_repository(path, base)
    assert (artifact.format, artifact.kind) == ("git", "git")
    json.dumps(artifact.document)
    result: dict[str, Any] = artifact.document
    return result


# --------------------------------------------------------------------------- the commit


def test_commit_metadata(repo: Path) -> None:
    doc = read(repo)
    assert doc["commit"] == git(repo, "rev-parse", "HEAD")
    assert (doc["branch"], doc["branch_source"]) == ("main", "git")
    assert doc["tags"] == []
    assert doc["author"] == {"name": "Ada Author", "email": "ada@example.com", "time": AUTHOR_DATE}
    assert doc["committer"] == {
        "name": "Cy Committer",
        "email": "cy@example.com",
        "time": COMMITTER_DATE,
    }
    assert doc["message"] == "second\n\nwith a body"
    assert (doc["signed"], doc["signature_status"], doc["signer"], doc["signing_key"]) == (
        False,
        "none",
        None,
        None,
    )
    assert doc["dirty"] is False
    assert doc["shallow"] is False


def test_changed_files_since_the_previous_tag(repo: Path) -> None:
    doc = read(repo)
    assert doc["base"] == "v1.0"
    assert doc["base_commit"] == git(repo, "rev-parse", "v1.0^{commit}")
    assert doc["changed_files"] == ["a.txt", "b.txt", "docs/x.md"]


def test_tags_at_head_are_not_their_own_base(repo: Path) -> None:
    git(repo, "tag", "v1.1")  # lightweight
    git(repo, "tag", "-a", "release/2024-01", "-m", "annotated")
    doc = read(repo)
    assert doc["tags"] == ["release/2024-01", "v1.1"]
    assert doc["base"] == "v1.0"
    assert doc["changed_files"] == ["a.txt", "b.txt", "docs/x.md"]


def test_no_previous_tag(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    git(tmp_path, "init", "-q", "-b", "trunk", str(root))
    write(root / "f", "x")
    git(root, "add", "f")
    git(root, "commit", "-q", "-m", "only")
    git(root, "tag", "v0.1")
    doc = read(root)
    assert doc["tags"] == ["v0.1"]
    assert (doc["base"], doc["base_commit"], doc["changed_files"]) == (None, None, None)


def test_given_base(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo / "c.txt", "feature\n")
    git(repo, "add", "c.txt")
    git(repo, "commit", "-q", "-m", "feature work")
    git(repo, "checkout", "-q", "main")
    write(repo / "main-only.txt", "m\n")
    git(repo, "add", "main-only.txt")
    git(repo, "commit", "-q", "-m", "main moves on")
    git(repo, "checkout", "-q", "feature")
    doc = read(repo, base="main")
    # Changes on the feature branch since it forked from main, not main's own.
    assert (doc["base"], doc["changed_files"]) == ("main", ["c.txt"])
    assert doc["branch"] == "feature"
    assert read(repo, base="HEAD")["changed_files"] == []


@pytest.mark.parametrize("base", ["no-such-ref", "--output=/tmp/x", " "])
def test_bad_base_is_an_error(repo: Path, base: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        read(repo, base=base)
    assert caught.value.file == "repo"
    assert "git base" in caught.value.message


def test_dirty_means_tracked_changes(repo: Path) -> None:
    write(repo / "untracked.log", "reports are written here in CI\n")
    assert read(repo)["dirty"] is False
    write(repo / "a.txt", "edited\n")
    assert read(repo)["dirty"] is True
    git(repo, "add", "a.txt")
    assert read(repo)["dirty"] is True  # staged, not committed
    git(repo, "commit", "-q", "-m", "third")
    assert read(repo)["dirty"] is False


def test_reading_does_not_write_to_the_repository(repo: Path) -> None:
    write(repo / "a.txt", "edited\n")
    index = repo / ".git" / "index"
    before = index.read_bytes()
    read(repo)
    assert index.read_bytes() == before
    assert not (repo / ".git" / "index.lock").exists()


# --------------------------------------------------------------------------- branches


def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach", "HEAD")
    doc = read(repo)
    assert (doc["branch"], doc["branch_source"]) == (None, None)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"GITHUB_REF_NAME": "release/2", "GITHUB_REF_TYPE": "branch"},
            ("release/2", "GITHUB_REF_NAME"),
        ),
        ({"GITHUB_REF_NAME": "v2.0", "GITHUB_REF_TYPE": "tag"}, (None, None)),
        (
            {"GITHUB_HEAD_REF": "fix-123", "GITHUB_REF_NAME": "7/merge"},
            ("fix-123", "GITHUB_HEAD_REF"),
        ),
        ({"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "main"}, ("main", "GITHUB_REF_NAME")),
        ({"CI_COMMIT_REF_NAME": "develop"}, ("develop", "CI_COMMIT_REF_NAME")),
        ({"CI_COMMIT_REF_NAME": "v3", "CI_COMMIT_TAG": "v3"}, (None, None)),
    ],
)
def test_detached_head_falls_back_to_ci_variables(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    expected: tuple[str | None, str | None],
) -> None:
    git(repo, "checkout", "-q", "--detach", "HEAD")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    doc = read(repo)
    assert (doc["branch"], doc["branch_source"]) == expected


def test_ci_variables_never_override_a_checked_out_branch(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REF_NAME", "something-else")
    assert (read(repo)["branch"], read(repo)["branch_source"]) == ("main", "git")


# --------------------------------------------------------------------------- repositories


def test_a_path_inside_the_repository(repo: Path) -> None:
    (repo / "reports").mkdir()
    write(repo / "reports" / "sbom.json", "{}")
    artifact = read_repository(repo / "reports" / "sbom.json")
    assert artifact.path == "repo"
    assert artifact.document["commit"] == git(repo, "rev-parse", "HEAD")


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ArtifactError) as caught:
        read_repository(plain)
    assert caught.value.file == "plain"
    assert "not a git repository" in caught.value.message


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "empty")
    with pytest.raises(ArtifactError) as caught:
        read_repository(tmp_path / "empty")
    assert "no commit yet" in caught.value.message


def test_bare_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "bare.git")
    with pytest.raises(ArtifactError) as caught:
        read_repository(tmp_path / "bare.git")
    assert "bare repository" in caught.value.message


def test_shallow_clone(repo: Path, tmp_path: Path) -> None:
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", "shallow")
    doc = read(tmp_path / "shallow")
    assert doc["shallow"] is True
    assert doc["commit"] == git(repo, "rev-parse", "HEAD")
    # The previous tag is not in the clone: nothing to compare against.
    assert (doc["base"], doc["changed_files"]) == (None, None)
    with pytest.raises(ArtifactError) as caught:
        read(tmp_path / "shallow", base="v1.0")
    assert "fetch-depth: 0" in (caught.value.hint or "")


def test_inherited_git_variables_are_ignored(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", "-b", "elsewhere", str(other))
    write(other / "z", "z")
    git(other, "add", "z")
    git(other, "commit", "-q", "-m", "other repository")
    write(other / "z", "dirty")
    # What a git hook or a CI wrapper may leave in the environment.
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(other / ".git" / "objects"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.abbrev'='7'")
    doc = read(repo)
    assert doc["message"] == "second\n\nwith a body"
    assert doc["branch"] == "main"
    assert doc["dirty"] is False
    assert doc["base"] == "v1.0"
    assert doc["changed_files"] == ["a.txt", "b.txt", "docs/x.md"]
    assert git_format.sanitized_environment().keys() & {"GIT_DIR", "GIT_INDEX_FILE"} == set()


# --------------------------------------------------------------------------- signatures

needs_ssh_signing = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None or git_version() < (2, 34),
    reason="SSH commit signing needs ssh-keygen and git 2.34 or later; "
    "OpenPGP signing is not tested (it needs a gpg agent and keyring set up)",
)


def ssh_key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key


def allowed_signers(folder: Path, email: str, key: Path) -> Path:
    path = folder / f"allowed-{key.name}"
    path.write_text(f"{email} {key.with_suffix('.pub').read_text().strip()}\n", encoding="utf-8")
    return path


@pytest.fixture
def signed_repo(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """``repo`` with HEAD a third commit signed with a new SSH key; returns (repo, key)."""
    key = ssh_key(tmp_path, "signing-key")
    write(repo / "c.txt", "signed\n")
    git(repo, "add", "c.txt")
    git(
        repo,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}.pub",
        "commit",
        "-q",
        "-S",
        "-m",
        "signed commit",
    )
    return repo, key


@pytest.fixture
def trust(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets ``COMPLIANCEGATE_ALLOWED_SIGNERS`` to a path."""

    def set_root(path: Path) -> None:
        monkeypatch.setenv(git_format.SIGNERS_VARIABLE, str(path))

    return set_root


@needs_ssh_signing
def test_signed_commit_verified_with_the_runners_allowed_signers(
    signed_repo: tuple[Path, Path], tmp_path: Path, trust: Any
) -> None:
    repo, key = signed_repo
    signers = allowed_signers(tmp_path, "ada@example.com", key)
    trust(signers)
    doc = read(repo)
    assert (doc["signed"], doc["signature_status"], doc["signer"]) == (
        True,
        "good",
        "ada@example.com",
    )
    assert doc["signing_key"] is not None
    assert doc["signing_key"].startswith("SHA256:")
    assert doc["allowed_signers"] == str(signers.resolve())


@needs_ssh_signing
def test_without_a_trust_root_no_ssh_key_is_trusted(signed_repo: tuple[Path, Path]) -> None:
    repo, _ = signed_repo
    doc = read(repo)
    assert (doc["signed"], doc["signature_status"], doc["allowed_signers"]) == (
        True,
        "unknown_key",
        None,
    )


@needs_ssh_signing
@pytest.mark.parametrize("where", ["config", "include", "include-inside", "worktree-config"])
def test_the_repositorys_own_allowed_signers_setting_is_not_honoured(
    signed_repo: tuple[Path, Path], tmp_path: Path, where: str
) -> None:
    """A contributor's key listed by the repository's configuration, however it is reached
    (directly, an included file, an included file inside the tree), is not trusted."""
    repo, key = signed_repo
    signers = allowed_signers(tmp_path, "ada@example.com", key)
    if where == "config":
        git(repo, "config", "gpg.ssh.allowedSignersFile", str(signers))
    elif where == "worktree-config":
        git(repo, "config", "extensions.worktreeConfig", "true")
        git(repo, "config", "--worktree", "gpg.ssh.allowedSignersFile", str(signers))
    else:
        folder = repo if where == "include-inside" else tmp_path
        included = folder / "gitconfig-extra"
        included.write_text(f'[gpg "ssh"]\n\tallowedSignersFile = {signers}\n', encoding="utf-8")
        git(repo, "config", "include.path", str(included))
    plain = git(repo, "show", "-s", "--format=%G?", "HEAD")
    assert plain == "G"  # git run plainly in the checkout trusts the key...
    doc = read(repo)
    assert doc["signature_status"] == "unknown_key"  # ...the gate does not
    assert doc["allowed_signers"] is None


@needs_ssh_signing
def test_the_trust_root_overrides_the_repositorys_setting(
    signed_repo: tuple[Path, Path], tmp_path: Path, trust: Any
) -> None:
    """The repository names a file trusting the contributor's key; the runner's root, which
    does not list it, decides."""
    repo, key = signed_repo
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed_signers(tmp_path, "a@b", key)))
    stranger = ssh_key(tmp_path, "release-manager")
    trust(allowed_signers(tmp_path, "rm@example.com", stranger))
    assert read(repo)["signature_status"] == "unknown_key"


@needs_ssh_signing
@pytest.mark.parametrize(
    "place",
    ["top", "nested", "git-folder", "symlink-from-outside", "symlinked-folder"],
)
def test_a_trust_root_inside_the_gated_tree_is_refused(
    signed_repo: tuple[Path, Path], tmp_path: Path, trust: Any, place: str
) -> None:
    repo, key = signed_repo
    inside = {
        "top": repo,
        "nested": repo / ".github" / "keys",
        "git-folder": repo / ".git",
        "symlink-from-outside": repo / ".github",
        "symlinked-folder": repo / "keys",
    }[place]
    inside.mkdir(parents=True, exist_ok=True)
    signers = allowed_signers(inside, "ada@example.com", key)
    named = signers
    if place == "symlink-from-outside":
        named = tmp_path / "looks-outside"
        named.symlink_to(signers)
    elif place == "symlinked-folder":
        link = tmp_path / "trusted"
        link.symlink_to(inside, target_is_directory=True)
        named = link / signers.name
    trust(named)
    with pytest.raises(ArtifactError, match="inside the repository being gated") as raised:
        read(repo)
    assert git_format.SIGNERS_VARIABLE in raised.value.message
    assert raised.value.hint is not None


@pytest.mark.parametrize("target", ["missing", "folder"])
def test_a_trust_root_that_cannot_be_read_is_an_error(
    repo: Path, tmp_path: Path, trust: Any, target: str
) -> None:
    path = tmp_path / "signers"
    if target == "folder":
        path.mkdir()
    trust(path)
    with pytest.raises(ArtifactError, match=git_format.SIGNERS_VARIABLE):
        read(repo)


@needs_ssh_signing
def test_signed_by_a_key_that_is_not_allowed(
    signed_repo: tuple[Path, Path], tmp_path: Path, trust: Any
) -> None:
    repo, _ = signed_repo
    stranger = ssh_key(tmp_path, "other-key")
    trust(allowed_signers(tmp_path, "x@y", stranger))
    doc = read(repo)
    assert (doc["signed"], doc["signature_status"]) == (True, "unknown_key")


@needs_ssh_signing
def test_tampered_signed_commit_is_bad(
    signed_repo: tuple[Path, Path], tmp_path: Path, trust: Any
) -> None:
    repo, key = signed_repo
    trust(allowed_signers(tmp_path, "a@b", key))
    original = git(repo, "cat-file", "commit", "HEAD")
    forged = tmp_path / "forged"
    forged.write_text(original.replace("signed commit", "forged commit") + "\n", encoding="utf-8")
    commit = git(repo, "hash-object", "-t", "commit", "-w", str(forged))
    git(repo, "checkout", "-q", "--detach", commit)
    doc = read(repo)
    assert doc["message"] == "forged commit"
    assert (doc["signed"], doc["signature_status"]) == (True, "bad")


@needs_ssh_signing
def test_global_config_cannot_make_a_signature_good(
    signed_repo: tuple[Path, Path], tmp_path: Path, hermetic: Path
) -> None:
    repo, key = signed_repo
    signers = allowed_signers(tmp_path, "ada@example.com", key)
    (hermetic / ".gitconfig").write_text(
        f'[gpg "ssh"]\n\tallowedSignersFile = {signers}\n', encoding="utf-8"
    )
    plain = subprocess.run(
        ["git", "show", "-s", "--format=%G?", "HEAD"],
        cwd=repo,
        env={"PATH": os.environ["PATH"], "HOME": str(hermetic)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert plain.stdout.strip() == "G"  # the user's git trusts it...
    assert read(repo)["signature_status"] == "unknown_key"  # ...the gate does not read that


# --------------------------------------------------------------------------- repository config


def tripwire(folder: Path) -> tuple[Path, Path]:
    """(a program that records that it ran, the file it records into)."""
    log = folder / "ran.log"
    program = folder / "tripwire.sh"
    program.write_text(f'#!/bin/sh\necho "$0 $*" >> "{log}"\nexit 0\n', encoding="utf-8")
    program.chmod(0o755)
    return program, log


def forge_pgp_signature(repo: Path, tmp_path: Path) -> None:
    """Check out a copy of HEAD carrying an (invalid) OpenPGP signature header, so verifying
    it runs ``gpg.program``."""
    original = git(repo, "cat-file", "commit", "HEAD")
    headers, message = original.split("\n\n", 1)
    signature = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEz\n -----END PGP SIGNATURE-----"
    forged = tmp_path / "pgp-commit"
    forged.write_text(f"{headers}\n{signature}\n\n{message}\n", encoding="utf-8")
    commit = git(repo, "hash-object", "-t", "commit", "-w", str(forged))
    git(repo, "checkout", "-q", "--detach", commit)


def plain_git(repo: Path, *args: str) -> None:
    """git as a developer would run it in the checkout (its configuration honoured)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=False)


@pytest.mark.parametrize(
    "setting", ["core.fsmonitor", "gpg.program", "gpg.openpgp.program", "filter", "hooks"]
)
def test_the_repositorys_configuration_runs_no_program(
    repo: Path, tmp_path: Path, setting: str
) -> None:
    """A checkout whose .git/config names programs: git as a developer runs it executes
    them; the gate's git runs none (each case first proves the trap is live)."""
    program, log = tripwire(tmp_path)
    if setting == "core.fsmonitor":
        git(repo, "config", "core.fsmonitor", str(program))
        probe: tuple[str, ...] = ("status", "--porcelain")
    elif setting.startswith("gpg."):
        forge_pgp_signature(repo, tmp_path)
        git(repo, "config", setting, str(program))
        probe = ("show", "-s", "--format=%G?", "HEAD")
    elif setting == "filter":
        write(repo / ".gitattributes", "* filter=trap\n")
        git(repo, "add", ".gitattributes")
        git(repo, "commit", "-q", "-m", "attributes")
        for command in ("clean", "process"):
            git(repo, "config", f"filter.trap.{command}", str(program))
        git(repo, "config", "filter.trap.required", "true")
        probe = ("status", "--porcelain")
    else:
        hooks = tmp_path / "hooks"
        hooks.mkdir()
        for hook in ("post-index-change", "reference-transaction", "post-checkout"):
            (hooks / hook).symlink_to(program)
        git(repo, "config", "core.hooksPath", str(hooks))
        probe = ()
    if setting == "filter":
        # The index's timestamps no longer match, so status must read the files again.
        for file in (repo / "a.txt", repo / "b.txt"):
            os.utime(file, (1_000_000_000, 1_000_000_000))
    if probe:
        plain_git(repo, *probe)
        assert log.exists(), f"the {setting} trap did not fire for plain git"
        log.unlink()
        if setting == "filter":
            for file in (repo / "a.txt", repo / "b.txt"):
                os.utime(file, (1_000_000_001, 1_000_000_001))
    doc = read(repo)
    assert not log.exists(), log.read_text()
    if setting == "filter":
        assert doc["dirty"] is False
    if setting.startswith("gpg."):
        assert doc["signed"] is True
        assert doc["signature_status"] != "good"


@needs_ssh_signing
def test_the_repositorys_ssh_program_is_not_run(
    signed_repo: tuple[Path, Path], tmp_path: Path, trust: Any
) -> None:
    """``gpg.ssh.program`` in .git/config would run on verification and could claim any
    signature good; the gate runs ssh-keygen itself."""
    repo, key = signed_repo
    program, log = tripwire(tmp_path)
    git(repo, "config", "gpg.ssh.program", str(program))
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed_signers(tmp_path, "a@b", key)))
    plain_git(repo, "show", "-s", "--format=%G?", "HEAD")
    assert log.exists()
    log.unlink()
    stranger = ssh_key(tmp_path, "stranger")
    trust(allowed_signers(tmp_path, "rm@example.com", stranger))
    assert read(repo)["signature_status"] == "unknown_key"
    trust(allowed_signers(tmp_path, "ada@example.com", key))
    assert read(repo)["signature_status"] == "good"
    assert not log.exists()


@needs_ssh_signing
def test_a_trust_root_inside_the_checkout_makes_the_gate_exit_2(
    signed_repo: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the starter signature policy with the allowed signers planted in the
    checkout is an error naming the variable, never a pass."""
    repo, key = signed_repo
    (repo / ".github").mkdir()
    planted = allowed_signers(repo / ".github", "ada@example.com", key)
    policies = tmp_path / "policies"
    write(policies / "git.yaml", SIGNED)
    env = {**os.environ, git_format.SIGNERS_VARIABLE: str(planted), "NO_COLOR": "1"}
    args = [sys.executable, "-m", "compliancegate", "check", str(repo), "--no-ledger"]
    args += ["--policies", str(policies), "--format", "json"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert result["status"] == "error"
    assert "inside the repository being gated" in result["error"]
    assert git_format.SIGNERS_VARIABLE in result["error"]
    outside = tmp_path / "trusted" / "allowed_signers"
    outside.parent.mkdir()
    outside.write_bytes(planted.read_bytes())
    env[git_format.SIGNERS_VARIABLE] = str(outside)
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


SIGNED = """\
apiVersion: compliancegate/v1
kind: Policy
id: signed
title: The commit is signed
controls: [nist-800-53-r5:CM-14]
severity: high
enforcement: block
input: git
required: true
rule: {path: signature_status, op: equals, value: good}
message: "commit {item.commit} is not signed with a good signature"
"""


# --------------------------------------------------------------------------- the store and the gate


def test_store_reads_the_repository_once(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, str | None]] = []
    real = git_format.read_repository

    def counting(path: Path, base: str | None = None) -> Any:
        calls.append((path, base))
        return real(path, base)

    monkeypatch.setattr(git_format, "read_repository", counting)
    store = ArtifactStore([repo / "docs", repo], git_base="v1.0")
    for _ in range(3):
        selection = store.select(InputSpec(kind="git"))
    assert calls == [(repo / "docs", "v1.0")]
    (artifact,) = selection.artifacts
    assert artifact.document["base"] == "v1.0"
    assert selection.files == ("repo",)
    assert selection.errors == ()


def test_store_outside_a_repository_is_missing_evidence(tmp_path: Path) -> None:
    (tmp_path / "release").mkdir()
    selection = ArtifactStore([tmp_path / "release"]).select(InputSpec(kind="git"))
    assert selection.artifacts == ()
    assert selection.errors == ()
    assert selection.missing is not None
    assert "not a git repository" in selection.missing


CLEAN_TREE = """\
apiVersion: compliancegate/v1
kind: Policy
id: tree-clean
title: The release is built from committed sources
controls: [nist-800-53-r5:CM-3]
severity: high
enforcement: block
input: git
required: false
rule: {path: dirty, op: equals, value: false}
"""


def test_gate_outside_a_repository_is_missing_evidence(tmp_path: Path) -> None:
    (tmp_path / "release").mkdir()
    # An optional git policy is not applicable where there is no repository...
    report = gate(tmp_path, CLEAN_TREE, [tmp_path / "release"])
    (result,) = report.results
    assert result.status is Status.NOT_APPLICABLE
    # (with nothing else evaluated, the run judged nothing: not compliant)
    assert report.decision is Decision.ERROR
    # ...and a required one fails: it never passes where there are no commits.
    required = CLEAN_TREE.replace("required: false", "required: true")
    report = gate(tmp_path, required, [tmp_path / "release"])
    (result,) = report.results
    assert result.status is Status.FAIL
    assert report.decision is Decision.BLOCKED
    (violation,) = result.violations
    assert "missing evidence" in violation.message
    assert "not a git repository" in violation.message


def test_gate_on_a_dirty_tree(repo: Path, tmp_path: Path) -> None:
    assert gate(tmp_path, CLEAN_TREE, [repo]).decision is Decision.COMPLIANT
    write(repo / "a.txt", "uncommitted\n")
    report = gate(tmp_path, CLEAN_TREE, [repo])
    (result,) = report.results
    assert (result.status, report.decision) == (Status.FAIL, Decision.BLOCKED)
    assert result.violations[0].location.file == "repo"


A_TXT_UNCHANGED = """\
apiVersion: compliancegate/v1
kind: Policy
id: a-txt-frozen
title: a.txt does not change
controls: [nist-800-53-r5:CM-3]
severity: moderate
enforcement: block
input: git
rule: {path: changed_files, op: not_contains, value: a.txt}
message: "a.txt changed since {item.base}"
"""


def test_git_base_from_flag_and_config(repo: Path, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write(policies / "git.yaml", A_TXT_UNCHANGED)
    args = ["check", str(repo), "--policies", str(policies), "--no-ledger", "--format", "json"]
    assert run(args) == 1  # since the previous tag v1.0, a.txt changed
    assert run([*args, "--git-base", "HEAD"]) == 0
    config = tmp_path / "compliancegate.yaml"
    write(config, "apiVersion: compliancegate/v1\nkind: Config\ngit: {base: HEAD}\n")
    assert run([*args, "--config", str(config)]) == 0
    # The flag overrides the config.
    assert run([*args, "--config", str(config), "--git-base", "v1.0"]) == 1
    assert resolve(CheckOptions(config=config, policies=(policies,))).git_base == "HEAD"
    assert (
        resolve(CheckOptions(config=config, policies=(policies,), git_base="v1.0")).git_base
        == "v1.0"
    )
    assert run([*args, "--git-base", "no-such-ref"]) == 2


@pytest.mark.parametrize(
    "git_setting",
    ["git: {base: ''}", "git: {branch: main}", "git: {base: --exec=x}", "git: main"],
)
def test_config_git_section_is_validated(tmp_path: Path, git_setting: str) -> None:
    config = tmp_path / "compliancegate.yaml"
    write(config, f"apiVersion: compliancegate/v1\nkind: Config\n{git_setting}\n")
    policies = tmp_path / "policies"
    write(policies / "git.yaml", A_TXT_UNCHANGED)
    assert run(["check", "--config", str(config), "--policies", str(policies), "--no-ledger"]) == 2


def test_parse_shows_the_repository_of_a_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["parse", "--format", "git", str(repo / "a.txt")]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["commit"] == git(repo, "rev-parse", "HEAD")
    assert shown["branch"] == "main"


def test_documented_fields(repo: Path) -> None:
    """Every field of the document is listed in docs/artifacts.md's git section."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "artifacts.md").read_text()
    section = docs.split("### git", 1)[1].split("\n### ", 1)[0]
    missing = [field for field in read(repo) if f"`{field}`" not in section]
    assert missing == []


def test_sanitized_environment_ignores_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", "evil")
    monkeypatch.setenv("git_lowercase_is_still_git", "x")
    env = git_format.sanitized_environment()
    assert not any(k.upper().startswith("GIT_") for k in env if k not in _OURS)
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"


_OURS = {"GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_TERMINAL_PROMPT", "GIT_OPTIONAL_LOCKS"}
