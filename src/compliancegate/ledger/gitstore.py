"""The git store: the ledger on a branch of a git repository, shared by every pipeline.

``git:URL#BRANCH`` names the repository and branch; ``git:.#BRANCH`` a branch of the
repository being gated (its ``origin``, else the repository itself). The branch holds
``records.jsonl`` and ``head.json``, one commit per stored batch.

The store works in a bare cache repository in the ledger's state folder, outside the gated
checkout (``placement.ledger_state``), with git plumbing only (no checkout, no index):

1. the operation is first queued in the authenticated queue (``pending``; a kill during the
   network steps loses nothing);
2. fetch the branch; replay and verify every record;
3. derive the records of every pending operation on top, in order;
4. commit the new files on top of the fetched commit and push (fast-forward only).

When the push is rejected because another pipeline pushed first, the store fetches again and
goes back to step 3 on the new head, with jittered exponential backoff, for as long as the
retry budget lasts (``DEFAULT_RETRY_SECONDS``): a time, not a count, so that a busy ledger
never leaves a run behind. A push the remote refuses for good (a hook, a protected branch)
is not retried. When the remote cannot be reached, the operations stay pending and the next
run pushes them. A retried operation is recognised by its id and never recorded twice.

The cache also remembers the last head it verified: a remote whose history no longer holds
that record was rewritten (a force-push), and is reported as such.

With a signing key, each commit also carries ``heads.jsonl`` (``signed``) with the batch's
signed head; ``verify_signed`` walks the whole history of the branch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compliancegate.ledger.chain import EMPTY, TAMPER_HINT, ChainHead
from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.derived import DerivedCache, byte_reader
from compliancegate.ledger.files import (
    EMPTY_HEAD,
    HEAD_FILE,
    RECORDS_FILE,
    Head,
    decode_head,
    encode_head,
    replay,
)
from compliancegate.ledger.gitcmd import Git, clean_env
from compliancegate.ledger.interface import (
    ChainError,
    CommitOutcome,
    LedgerContents,
    LedgerError,
    LedgerRewritten,
    LedgerUnavailable,
    Snapshot,
    VerifyReport,
)
from compliancegate.ledger.lock import DEFAULT_TIMEOUT, locked
from compliancegate.ledger.operations import Operation, RunOp
from compliancegate.ledger.pending import STRAY_REASON, PendingQueue, queue_problem
from compliancegate.ledger.placement import gated_tree, ledger_state, stray_pending
from compliancegate.ledger.records import line_hash
from compliancegate.ledger.signed import (
    HEADS_FILE,
    append_head,
    check_heads,
    expected_problem,
    parse_expected,
    parse_heads,
    record_ends,
    tip_problem,
)
from compliancegate.ledger.state import StaleState, StateBuilder

if TYPE_CHECKING:
    from compliancegate.signing.keys import PublicKey

DEFAULT_RETRY_SECONDS = 120.0
"""How long a run keeps retrying pushes the remote rejects because others pushed first,
before its records are left pending."""
RETRY_VARIABLE = "COMPLIANCEGATE_LEDGER_RETRY_SECONDS"
"""Overrides ``DEFAULT_RETRY_SECONDS``."""

_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![./])$")
_MISSING_REF = "couldn't find remote ref"


@dataclass(frozen=True)
class GitLocation:
    """A parsed ``git:URL#BRANCH``."""

    url: str
    """The repository, or ``.`` for the repository being gated."""
    branch: str

    @property
    def text(self) -> str:
        """The location as written."""
        return f"git:{self.url}#{self.branch}"


def parse_git_location(value: str) -> GitLocation:
    """Parse ``git:URL#BRANCH``; ``LedgerError`` when it is not one."""
    body = value.removeprefix("git:")
    url, sep, branch = body.rpartition("#")
    if not sep or not url or not branch:
        raise LedgerError(
            f"{value!r} is not a git ledger location",
            hint="write git:URL#BRANCH, e.g. git:.#compliance-ledger",
        )
    if not _BRANCH.match(branch):
        raise LedgerError(f"{branch!r} is not a valid branch name", subject=value)
    return GitLocation(url, branch)


@dataclass(frozen=True)
class Remote:
    """Where the store fetches and pushes, and the git settings it needs to."""

    url: str
    config: tuple[tuple[str, str], ...] = ()
    """Per-process git configuration (CI credentials of the gated repository)."""


def _is_local_path(url: str) -> bool:
    # URLs (scheme://) and scp-like addresses (host:path) are remote; anything else is a path.
    return "://" not in url and not re.match(r"^[^/]+:", url)


def gated_remote(cwd: Path) -> Remote:
    """The remote of the repository being gated: its ``origin``, or itself when it has none.

    Its ``pushurl`` and ``http.*.extraheader`` settings are carried over, because that is
    where CI jobs keep the token that may push (actions/checkout writes an extraheader; a
    GitLab job sets a push URL with a project token). They travel as per-process git
    configuration, never written into the cache.
    """
    import git

    try:
        repo = git.Repo(cwd, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise LedgerError(
            "git:. names the repository being gated, but this is not a git repository",
            file=str(cwd),
            hint="run in the repository's checkout, or use git:URL#BRANCH",
        ) from None
    with repo:
        base = Path(repo.working_tree_dir or repo.git_dir)
        try:
            url = str(repo.remote("origin").url)
        except (ValueError, git.GitError):
            url = str(base)
        if _is_local_path(url) and not os.path.isabs(url):
            url = str((base / url).resolve())
        config: list[tuple[str, str]] = []
        reader = repo.config_reader("repository")
        origin = 'remote "origin"'
        if reader.has_section(origin) and reader.has_option(origin, "pushurl"):
            for value in reader.get_values(origin, "pushurl"):
                push = str(value)
                if _is_local_path(push) and not os.path.isabs(push):
                    push = str((base / push).resolve())
                config.append(("remote.origin.pushurl", push))
        for section in reader.sections():
            name, _, sub = section.partition(" ")
            if name != "http" or not reader.has_option(section, "extraheader"):
                continue
            key = f"http.{sub.strip(chr(34))}.extraheader" if sub else "http.extraheader"
            for value in reader.get_values(section, "extraheader"):
                config.append((key, str(value)))
    return Remote(url, tuple(config))


class GitStore:
    """A ledger on a branch of a git repository."""

    def __init__(
        self,
        location: GitLocation,
        state: Path | None = None,
        *,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        timeout: float = 120.0,
    ) -> None:
        """``state`` is the ledger's state folder (cache, queue and key), by default the one
        ``placement.ledger_state`` gives; rejected pushes are retried for ``retry_seconds``."""
        self._location = location
        cwd = cwd or Path.cwd()
        environ = os.environ if environ is None else environ
        if location.url == ".":
            self.remote = gated_remote(cwd)
        else:
            url = location.url
            if _is_local_path(url) and not os.path.isabs(url):
                url = str((cwd / url).resolve())
            self.remote = Remote(url)
        identity = f"git:{self.remote.url}#{location.branch}"
        self.cache = state if state is not None else ledger_state(identity, cwd, environ)
        self._tree = gated_tree(cwd)
        self._repo = self.cache / "repo.git"
        self._queue = PendingQueue(self.cache, identity)
        self._known = self.cache / "known-head.json"
        env = clean_env(environ, self.remote.config)
        self._git = Git(self._repo, env, timeout)
        self._retry_seconds = max(0.0, retry_seconds)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._ref = f"refs/remotes/origin/{location.branch}"
        self._replayed: tuple[str, Head, bytes, StateBuilder] | None = None
        self._derived = DerivedCache(self.cache, identity, self._queue.mac_key)
        self._blocks: tuple[str, ...] = ()
        """Digests of the records file's blocks verified or written by this process."""
        from compliancegate.signing.keys import key_from_environment

        # Loaded when the store opens: a bad key fails the command before anything runs.
        self._key = key_from_environment(environ, self._tree)
        self._pin = pinned_head(environ)

    @property
    def location(self) -> str:
        """The ``--ledger`` value."""
        return self._location.text

    def _stray(self) -> tuple[str, ...]:
        return tuple(f"{path}: {STRAY_REASON}" for path in stray_pending(self._tree))

    # ------------------------------------------------------------------- plumbing

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        # One process at a time in the cache; other machines are kept apart by the push.
        # A holder may spend the whole retry budget pushing, so a waiter waits that long.
        self._queue.prepare()
        return locked(self.cache / "lock", timeout=DEFAULT_TIMEOUT + self._retry_seconds)

    def _ensure_repo(self) -> None:
        if (self._repo / "HEAD").exists():
            return
        self._git.out("init", "--quiet", "--bare", str(self._repo))
        self._git.out("config", "remote.origin.url", self.remote.url)
        # With a fetch refspec, a push also moves the remote-tracking ref: no extra command.
        refspec = f"+refs/heads/{self._location.branch}:{self._ref}"
        self._git.out("config", "remote.origin.fetch", refspec)
        self._git.out("config", "gc.auto", "0")

    def _fetch(self) -> str | None:
        """Fetch the branch; its commit, or None when the branch does not exist yet."""
        refspec = f"+refs/heads/{self._location.branch}:{self._ref}"
        result = self._git.run("fetch", "--quiet", "--no-tags", "origin", refspec)
        if result.code == 0:
            return self._local_commit()
        if _MISSING_REF in result.stderr:
            self._git.run("update-ref", "-d", self._ref)
            return None
        raise LedgerUnavailable(f"cannot fetch {self.location}: {result.last_error}")

    def _local_commit(self) -> str | None:
        # Fetch and push write the tracking ref as a loose file (gc never runs here): reading
        # it saves a git process in the window between fetch and push.
        try:
            text = (self._repo / self._ref).read_text(encoding="ascii").strip()
            if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text):
                return text
        except (OSError, UnicodeDecodeError):
            pass
        result = self._git.run("rev-parse", "--verify", "--quiet", self._ref + "^{commit}")
        if result.code != 0:
            return None
        return result.stdout.decode().strip() or None

    def _read(self, commit: str | None) -> tuple[Head, bytes]:
        if commit is None:
            return EMPTY_HEAD, b""
        # Both files in one ``cat-file --batch``: "<sha> <type> <size>\n<content>\n" each.
        names = f"{commit}:{HEAD_FILE}\n{commit}:{RECORDS_FILE}\n".encode()
        out = self._git.out("cat-file", "--batch", stdin=names)
        blobs = []
        position = 0
        for _ in range(2):
            end = out.index(b"\n", position)
            header = out[position:end].split()
            if len(header) != 3 or header[1] != b"blob":
                raise LedgerError(
                    f"the branch does not hold a ledger ({HEAD_FILE} and {RECORDS_FILE})",
                    subject=self.location,
                )
            size = int(header[2])
            blobs.append(out[end + 1 : end + 1 + size])
            position = end + 1 + size + 1
        return decode_head(blobs[0], f"{self.location}:{HEAD_FILE}"), blobs[1]

    def _check_tip(self, heads: bytes, records: bytes) -> None:
        """Refuse to sign on top of signed heads this runner's key did not make, or that no
        longer match the records (``signed.tip_problem``)."""
        assert self._key is not None
        name = f"{self.location}:{HEADS_FILE}"
        problem = tip_problem(heads, list(record_ends(records)), self._key.public, name)
        if problem is not None:
            raise LedgerRewritten(problem.message, seq=problem.seq, file=name, hint=problem.hint)

    def _read_heads(self, commit: str | None) -> bytes:
        """``heads.jsonl`` at ``commit`` (empty when it has none)."""
        if commit is None:
            return b""
        result = self._git.run("cat-file", "blob", f"{commit}:{HEADS_FILE}")
        return result.stdout if result.code == 0 else b""

    def _replay(
        self, commit: str | None, *, cached: bool = True, save: bool = True
    ) -> tuple[Head, bytes, StateBuilder]:
        """The state at ``commit``, verified: only the records after the head of the
        derived-state cache when it is still a prefix of the ledger and the commits since
        only append (``_appended``), else all (and cache the result, unless ``save`` is
        false, as for ``FileStore._load``). A replay of the same
        commit earlier in this process (a production check's snapshot, then its commit) is
        reused."""
        memo = self._replayed
        if cached and commit is not None and memo is not None and memo[0] == commit:
            return memo[1], memo[2], memo[3].copy()
        head, records = self._read(commit)
        resumed = None
        if cached and commit is not None and head.chain.seq:
            # A commit names its records exactly: the cache's own is not hashed again.
            resumed = self._derived.resume(byte_reader(records), head.chain, commit)
        state = None
        if resumed is not None and commit is not None:
            try:
                if resumed.anchor != commit:
                    self._appended(resumed.anchor, commit, resumed.head, records)
                state = resumed.state
                self._check(head, records, state, resumed.head)
                self._blocks = resumed.blocks
            except (ChainError, StaleState):
                # The commits or records since the cached head say otherwise: the replay
                # from the first record decides (and names what is wrong).
                state = resumed = None
        if state is None:
            state = StateBuilder()
            self._check(head, records, state)
        if commit is not None:
            if save and (resumed is None or resumed.head != head.chain):
                self._save(state, head.chain, records, commit)
            self._replayed = (commit, head, records, state.copy())
        return head, records, state

    def _save(self, state: StateBuilder, head: ChainHead, records: bytes, commit: str) -> None:
        """Cache ``state`` (derived at ``head`` of ``commit``) for the next run."""
        read = byte_reader(records)
        self._blocks = self._derived.save(state, head, read, self._blocks, commit, commit)

    def _appended(self, base: str | None, tip: str, cached: ChainHead, records: bytes) -> None:
        """The commits from ``base`` (where the cache was saved) to ``tip`` form one line of
        appends: each follows the one before, and each one's ``head.json`` names a record of
        the tip's chain, unchanged, at or after the cached head (the history walk of
        ``verify_signed``, for the new commits only). ``ChainError`` when they do not."""
        name = f"{self.location}:{RECORDS_FILE}"
        if base is None or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", base):
            raise ChainError("the cache names no commit", seq=0, file=name)
        listing = self._git.run("rev-list", "--parents", "--reverse", f"{base}..{tip}")
        rows = [line.split() for line in listing.stdout.decode().splitlines() if line.strip()]
        if listing.code != 0 or not rows:
            raise ChainError(f"{tip[:12]} does not descend from {base[:12]}", seq=0, file=name)
        ends = {end.seq + cached.seq: end for end in record_ends(records[cached.size :])}
        last, parent = cached.seq, base
        for row, head in zip(rows, self._heads_of(rows), strict=True):
            if row[1:] != [parent]:
                raise ChainError(f"commit {row[0][:12]} does not follow {parent[:12]}", seq=0)
            if head is None or head.seq < last:
                raise ChainError(f"commit {row[0][:12]} goes back in the ledger", seq=0)
            if head.seq > cached.seq:
                end = ends.get(head.seq)
                if end is None or (end.hash, end.size + cached.size) != (head.hash, head.size):
                    raise ChainError(f"commit {row[0][:12]} names a rewritten record", seq=0)
            elif head != cached:
                raise ChainError(f"commit {row[0][:12]} names a rewritten record", seq=0)
            last, parent = head.seq, row[0]

    def _load(self, commit: str | None, state: StateBuilder) -> tuple[Head, bytes]:
        head, records = self._read(commit)
        self._check(head, records, state)
        return head, records

    def _check(
        self, head: Head, records: bytes, state: StateBuilder, start: ChainHead = EMPTY
    ) -> None:
        """Replay ``records`` after ``start`` (where ``state`` is) against ``head``, and check
        the head this runner saw before and the pinned one."""
        name = f"{self.location}:{RECORDS_FILE}"
        lines = io.BytesIO(records[start.size : head.chain.size])
        replay(lines, head, state, name, start)
        if len(records) != head.chain.size:
            raise ChainError(
                "the records file does not end where the ledger's head says",
                seq=head.chain.seq + 1,
                file=name,
                hint=TAMPER_HINT,
            )
        self._check_known(head, records, name)

    def _check_known(self, head: Head, records: bytes, name: str) -> None:
        """The record this cache last verified must still be there, unchanged; so must the
        head pinned in ``COMPLIANCEGATE_LEDGER_PIN``."""
        if self._pin is not None:
            problem = expected_problem(list(record_ends(records)), self._pin, name)
            if problem is not None:
                raise LedgerRewritten(
                    f"the pinned head ({PIN_VARIABLE}) is not in the ledger: "
                    f"{_found(records, self._pin.seq, self._pin.hash)}",
                    seq=self._pin.seq,
                    file=name,
                    hint=f"the branch was rewritten; restore it, or correct {PIN_VARIABLE}",
                )
        try:
            known = json.loads(self._known.read_text(encoding="utf-8"))
            seq, digest = int(known["seq"]), str(known["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if seq == 0:
            return
        if seq > head.chain.seq or line_hash(_line(records, seq, head.chain.seq)) != digest:
            raise LedgerRewritten(
                f"this runner verified record {seq} before, and the remote no longer has it "
                f"unchanged: the branch's history was rewritten ({_found(records, seq, digest)})",
                seq=seq,
                file=name,
                hint=f"if the rewrite was deliberate, delete {self._known}",
            )

    def _remember(self, head: ChainHead) -> None:
        data = json.dumps({"seq": head.seq, "hash": head.hash}).encode()
        tmp = self._known.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self._known)

    def _commit(
        self, parent: str | None, records: bytes, head: Head, message: str, heads: bytes = b""
    ) -> str:
        with tempfile.TemporaryDirectory(dir=self.cache) as scratch:
            head_path = Path(scratch, HEAD_FILE)
            head_path.write_bytes(encode_head(head))
            records_path = Path(scratch, RECORDS_FILE)
            records_path.write_bytes(records)
            paths = [str(head_path), str(records_path)]
            if heads:
                Path(scratch, HEADS_FILE).write_bytes(heads)
                paths.append(str(Path(scratch, HEADS_FILE)))
            shas = self._git.out("hash-object", "-w", "--", *paths).split()
        head_blob, records_blob = (sha.decode() for sha in shas[:2])
        listing = (
            f"100644 blob {head_blob}\t{HEAD_FILE}\n100644 blob {records_blob}\t{RECORDS_FILE}\n"
        )
        if heads:
            # mktree wants entries in git's order: head.json < heads.jsonl < records.jsonl.
            listing = listing.replace(
                f"\t{HEAD_FILE}\n", f"\t{HEAD_FILE}\n100644 blob {shas[2].decode()}\t{HEADS_FILE}\n"
            )
        tree = self._git.out("mktree", stdin=listing.encode()).decode().strip()
        args = ["commit-tree", tree, "-m", message]
        if parent is not None:
            args += ["-p", parent]
        return self._git.out(*args).decode().strip()

    def _push(self, commit: str) -> bool:
        """Push ``commit`` to the branch: True when it landed, False when the remote moved on
        (another pipeline pushed first); ``LedgerUnavailable`` when the remote cannot be
        reached or refuses the push for good (a hook, a protected branch)."""
        refspec = f"{commit}:refs/heads/{self._location.branch}"
        result = self._git.run("push", "--porcelain", "--quiet", "origin", refspec)
        if result.code == 0:
            return True
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            if not line.startswith("!"):
                continue
            if _lost_race(line):
                return False
            summary = line.split("\t")[-1].strip()
            raise LedgerUnavailable(f"{self.location} refused the push: {summary}")
        raise LedgerUnavailable(f"cannot push to {self.location}: {result.last_error}")

    def _pause(self, attempt: int, deadline: float) -> None:
        # Full jitter: concurrent pipelines that collided do not collide again in lockstep.
        limit = min(self._max_backoff, self._backoff * (2 ** min(attempt, 30)))
        pause = random.uniform(0, limit)  # noqa: S311 - not cryptographic
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    # ------------------------------------------------------------------- the store

    def snapshot(self, now: dt.datetime, *, live_only: bool = False) -> Snapshot:
        """The findings as of ``now``: the remote's, or the local copy when it is
        unreachable, this runner's pending operations included; with ``live_only``, only
        those not resolved (``StateBuilder.freeze``)."""
        try:
            return self._snapshot(now, live_only, cached=True)
        except StaleState:
            return self._snapshot(now, live_only, cached=False)

    def _snapshot(self, now: dt.datetime, live_only: bool, *, cached: bool) -> Snapshot:
        with self._lock():
            self._ensure_repo()
            offline = None
            try:
                commit = self._fetch()
            except LedgerUnavailable as exc:
                offline = exc.message
                commit = self._local_commit()
            head, _, state = self._replay(commit, cached=cached, save=not live_only)
            queued = self._queue.load()
            ops = [q.operation for q in queued.operations]
            if ops:
                build_batch(state, head.chain, (), ops)
        return Snapshot(
            state.freeze(now, live_only=live_only),
            self.location,
            len(ops),
            offline,
            found=commit is not None or bool(ops),
            refused=queued.refused + self._stray(),
        )

    def commit(self, operations: Sequence[Operation]) -> CommitOutcome:
        """Queue ``operations``, then push every queued one (see the module docstring)."""
        # Queued before waiting for the lock: a run is never lost to a busy cache, and the
        # process holding the lock may push it along with its own.
        self._queue.add(operations)
        stray = self._stray()
        try:
            with self._lock():
                return self._push_queued(len(operations), stray)
        except LedgerUnavailable as exc:
            pending = self._queue.count()
            return CommitOutcome(
                stored=0, records=0, pending=pending, reason=exc.message, refused=stray
            )

    def _push_queued(self, new: int, stray: tuple[str, ...]) -> CommitOutcome:
        self._ensure_repo()
        queued = self._queue.load(set_aside=True)
        refused = queued.refused + stray
        ops = [q.operation for q in queued.operations]
        if not ops:
            # Another process of this runner stored them while this one waited for the lock.
            return CommitOutcome(stored=0, records=0, pending=0, refused=refused)
        started = time.monotonic()
        deadline = started + self._retry_seconds
        rejected = 0
        while True:
            if rejected:
                self._pause(rejected - 1, deadline)
            try:
                parent = self._fetch()
            except LedgerUnavailable as exc:
                reason = exc.message
                break
            head, records, state = self._replay(parent, save=False)
            self._remember(head.chain)
            try:
                batch = build_batch(state, head.chain, (), ops)
            except StaleState:
                head, records, state = self._replay(parent, cached=False, save=False)
                batch = build_batch(state, head.chain, (), ops)
            if batch.linked.data:
                new_head = Head(batch.linked.head)
                # Signed heads travel in the same commit as the records they sign.
                heads = self._read_heads(parent)
                if self._key is not None:
                    self._check_tip(heads, records[: head.chain.size])
                    heads = append_head(heads, self._key, new_head.chain)
                commit = self._commit(
                    parent, records + batch.linked.data, new_head, _message(ops), heads
                )
                try:
                    landed = self._push(commit)
                except LedgerUnavailable as exc:
                    reason = exc.message
                    break
                if not landed:
                    rejected += 1
                    if time.monotonic() < deadline:
                        continue
                    reason = (
                        f"the remote rejected {rejected} push(es) in "
                        f"{time.monotonic() - started:.0f}s because others pushed first (retry "
                        f"budget {self._retry_seconds:g}s, {RETRY_VARIABLE})"
                    )
                    break
                self._remember(new_head.chain)
                self._save(state, new_head.chain, records + batch.linked.data, commit)
            self._queue.remove(q.path for q in queued.operations)
            return CommitOutcome(
                stored=batch.stored,
                records=len(batch.linked.records),
                pending=0,
                synced=max(len(ops) - new, 0),
                dropped=batch.dropped,
                refused=refused,
            )
        return CommitOutcome(stored=0, records=0, pending=len(ops), reason=reason, refused=refused)

    def contents(self) -> LedgerContents:
        """The records and signed heads of the branch as ``verify`` last fetched it."""
        with self._lock():
            self._ensure_repo()
            commit = self._local_commit()
            head, records = self._read(commit)
            return LedgerContents(records[: head.chain.size], self._read_heads(commit))

    def verify_signed(
        self, trusted: Sequence[PublicKey], expect: ChainHead | None = None
    ) -> ChainError | None:
        """Walk the branch's whole history (as ``verify`` fetched it): every commit only
        appends to its parent's records and signed heads; with ``trusted`` keys every
        commit's head is signed and every signature verifies; ``expect`` is still a prefix.
        """
        with self._lock():
            self._ensure_repo()
            commit = self._local_commit()
            if commit is None:
                if not trusted and expect is None:
                    return None
                return LedgerRewritten(
                    f"the branch {self._location.branch} does not exist: it was deleted (or "
                    "never held a ledger), so no signed head can be checked",
                    seq=expect.seq if expect else 0,
                    file=self.location,
                    hint="restore the branch from a clone that still has it",
                )
            return self._walk(commit, trusted, expect)

    def _walk(
        self, tip: str, trusted: Sequence[PublicKey], expect: ChainHead | None
    ) -> ChainError | None:
        """Check every commit's ``head.json`` against the tip's verified chain: each names a
        record still there unchanged, never fewer than its parent's (one small blob per
        commit, so the walk is linear in the history). Only when that fails are whole
        records files compared, to name the commit that rewrote them."""
        name = f"{self.location}:{RECORDS_FILE}"
        listing = self._git.out("rev-list", "--parents", "--reverse", tip).decode()
        rows = [line.split() for line in listing.split("\n") if line.strip()]
        for index, row in enumerate(rows):
            if len(row) > 2 or (index and row[1:] != [rows[index - 1][0]]):
                return ChainError(
                    f"commit {row[0][:12]} is a merge or does not follow the commit before it: "
                    "a ledger branch is one line of appends",
                    seq=0,
                    file=name,
                    hint=TAMPER_HINT,
                )
        tip_records, tip_heads = self._blobs([tip])[0]
        ends = list(record_ends(tip_records))
        heads_name = f"{self.location}:{HEADS_FILE}"
        try:
            signed = parse_heads(tip_heads, heads_name)
        except ChainError as exc:
            return exc
        signed_heads = {entry.head for entry in signed}
        first_signed = signed[0].head.seq if signed else None
        last = 0
        # Reported after the signatures: a forged signed head is the clearer finding.
        unsigned: ChainError | None = None
        for index, (row, head) in enumerate(zip(rows, self._heads_of(rows), strict=True)):
            short = row[0][:12]
            if head is None:
                return ChainError(
                    f"commit {short} holds no valid {HEAD_FILE}", seq=0, file=name, hint=TAMPER_HINT
                )
            if head.seq < last or (
                head.seq and (head.seq > len(ends) or ends[head.seq - 1] != head)
            ):
                culprit = self._culprit(rows[max(index - 1, 0) :], name)
                if culprit is not None:
                    return culprit
                return ChainError(
                    f"commit {short} ended the ledger at record {head.seq} ({head.hash}), which "
                    "the branch no longer holds unchanged: a later commit rewrote or removed it",
                    seq=head.seq,
                    file=name,
                    hint=TAMPER_HINT,
                )
            if (
                unsigned is None
                and trusted
                and first_signed is not None
                and head.seq >= first_signed
                and head not in signed_heads
            ):
                unsigned = ChainError(
                    f"commit {short} ends the ledger at record {head.seq}, but no signed head "
                    "names it: records were added without the signing key",
                    seq=head.seq,
                    file=name,
                    hint="records appended by someone without the key, or unsigned runs",
                )
            last = head.seq
        problem = expected_problem(ends, expect, name)
        if problem is not None:
            return problem
        return check_heads(signed, ends, trusted, heads_name) or unsigned

    def _heads_of(self, rows: Sequence[Sequence[str]]) -> list[ChainHead | None]:
        """Each commit's ``head.json`` (None when missing or malformed), in one git call."""
        names = "".join(f"{row[0]}:{HEAD_FILE}\n" for row in rows).encode()
        out = self._git.out("cat-file", "--batch", stdin=names)
        heads: list[ChainHead | None] = []
        position = 0
        for _ in rows:
            end = out.index(b"\n", position)
            header = out[position:end].split()
            if header[-1] == b"missing":
                heads.append(None)
                position = end + 1
                continue
            size = int(header[2])
            blob = out[end + 1 : end + 1 + size]
            position = end + 1 + size + 1
            try:
                heads.append(decode_head(blob, HEAD_FILE).chain)
            except ChainError:
                heads.append(None)
        return heads

    def _culprit(self, rows: Sequence[Sequence[str]], name: str) -> ChainError | None:
        """The first of ``rows`` whose records do not extend its parent's (whole files read,
        a chunk of commits at a time), or None."""
        previous: tuple[str, bytes] | None = None
        for start in range(0, len(rows), _WALK_CHUNK):
            chunk = rows[start : start + _WALK_CHUNK]
            for row, (records, _) in zip(chunk, self._blobs([r[0] for r in chunk]), strict=True):
                if previous is not None and not records.startswith(previous[1]):
                    kept = _common_records(previous[1], records)
                    had, has = previous[1].count(b"\n"), records.count(b"\n")
                    return ChainError(
                        f"commit {row[0][:12]} does not only append to its parent's records: "
                        f"it rewrites or removes record {kept + 1} (its parent "
                        f"{previous[0][:12]} has {had} records, it has {has})",
                        seq=kept + 1,
                        file=name,
                        hint=TAMPER_HINT,
                    )
                previous = (row[0], records)
        return None

    def _blobs(self, commits: Sequence[str]) -> list[tuple[bytes, bytes]]:
        """``records.jsonl`` and ``heads.jsonl`` (empty when absent) of each commit."""
        names = "".join(f"{c}:{RECORDS_FILE}\n{c}:{HEADS_FILE}\n" for c in commits).encode()
        out = self._git.out("cat-file", "--batch", stdin=names)
        blobs: list[bytes] = []
        position = 0
        while len(blobs) < 2 * len(commits):
            end = out.index(b"\n", position)
            header = out[position:end].split()
            if header[-1] == b"missing":
                blobs.append(b"")
                position = end + 1
                continue
            size = int(header[2])
            blobs.append(out[end + 1 : end + 1 + size])
            position = end + 1 + size + 1
        return [(blobs[i], blobs[i + 1]) for i in range(0, len(blobs), 2)]

    def verify(self) -> VerifyReport:
        """Fetch (when reachable) and check every record of the branch, and the queue."""
        notes: list[str] = []
        state = StateBuilder()
        problem = None
        with self._lock():
            self._ensure_repo()
            try:
                commit = self._fetch()
            except LedgerUnavailable as exc:
                notes.append(f"remote unreachable ({exc.message}); verified the local copy")
                commit = self._local_commit()
            try:
                head, _ = self._load(commit, state)
                if commit is not None:
                    self._remember(head.chain)
            except ChainError as exc:
                problem = exc
            if commit is None:
                notes.append("the branch has no records yet")
            problem = problem or queue_problem(self._queue, self._stray(), state.records)
            pending = self._queue.count()
            if pending:
                notes.append(f"{pending} operation(s) pending in {self._queue.folder}")
        return VerifyReport(self.location, state.records, state.head, problem, tuple(notes))


PIN_VARIABLE = "COMPLIANCEGATE_LEDGER_PIN"
"""``SEQ:HASH``: a head the ledger must still extend (for runners that keep no cache)."""


def pinned_head(environ: Mapping[str, str]) -> ChainHead | None:
    """The head ``COMPLIANCEGATE_LEDGER_PIN`` pins, or None; ``LedgerError`` when malformed."""
    value = environ.get(PIN_VARIABLE, "")
    if not value:
        return None
    try:
        return parse_expected(value)
    except ValueError as exc:
        raise LedgerError(
            str(exc), subject=PIN_VARIABLE, hint="copy SEQ:HASH from ledger verify"
        ) from None


def _line(records: bytes, seq: int, count: int) -> bytes:
    """Record ``seq`` of the ``count`` records in ``records`` (without its newline), found
    from the nearer end: the record a runner last saw is usually among the last, and
    splitting a long ledger into lines costs more than the rest of a run."""
    if seq > count // 2:
        end = len(records) - 1
        for _ in range(count - seq):
            end = records.rfind(b"\n", 0, end)
        return records[records.rfind(b"\n", 0, end) + 1 : end]
    start = 0
    for _ in range(seq - 1):
        start = records.index(b"\n", start) + 1
    return records[start : records.index(b"\n", start)]


def _found(records: bytes, seq: int, digest: str) -> str:
    """What a rewritten ledger holds where record ``seq`` (``digest``) was expected."""
    if not records:
        return f"expected record {seq} ({digest}), found no records: the branch was deleted"
    lines = records.split(b"\n")
    if seq > len(lines) - 1:
        return (
            f"expected record {seq} ({digest}), found the ledger ending at record {len(lines) - 1}"
        )
    return f"expected record {seq} to hash to {digest}, found {line_hash(lines[seq - 1])}"


_WALK_CHUNK = 16
"""Commits read per ``git cat-file --batch`` when walking the history."""


def _common_records(old: bytes, new: bytes) -> int:
    """How many of ``old``'s records ``new`` still starts with, unchanged."""
    count = 0
    for a, b in zip(old.splitlines(keepends=True), new.splitlines(keepends=True), strict=False):
        if a != b:
            break
        count += 1
    return count


def _lost_race(line: str) -> bool:
    """Whether a rejected ref in ``git push --porcelain`` output means that the branch moved
    on (try again on the new head) rather than that the remote refuses the push for good."""
    summary = line.split("\t")[-1].lower()
    if "[rejected]" in summary:  # git saw the remote ahead: fetch first, non-fast-forward
        return True
    # A server that lost the race while updating the ref says so in its own words.
    return any(
        word in summary
        for word in ("cannot lock ref", "failed to update ref", "incorrect old value", "stale")
    )


def _message(ops: Sequence[Operation]) -> str:
    runs = [op for op in ops if isinstance(op, RunOp)]
    if len(ops) == 1 and runs:
        return f"compliancegate: run {runs[0].run_id} ({runs[0].decision})"
    return f"compliancegate: {len(ops)} operation(s), {len(runs)} run(s)"
