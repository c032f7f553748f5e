"""Which files a check reads, and the store that parses each of them at most once.

Discovery walks the paths given to ``check`` (skipping VCS and tool folders), detection is
done on demand from a file's suffix and first bytes, and every (file, format) pair is parsed
once and cached, errors included, however many policies read it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from compliancegate.artifacts.interface import RAW_KIND, ArtifactFormat
from compliancegate.artifacts.kinds import combine
from compliancegate.artifacts.registry import (
    SYNTAXES,
    formats,
    formats_for,
    get_format,
    suffix_syntax,
)
from compliancegate.artifacts.source import DEFAULT_MAX_BYTES, Source, collector_paused
from compliancegate.errors import ArtifactError, CompliancegateError
from compliancegate.model import Artifact, InputSpec

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".compliancegate",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
)


@cache
def compile_glob(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over ``/``-separated relative paths.

    ``*`` and ``?`` stay within one path segment, ``**/`` matches zero or more folders,
    ``[...]`` is a character class and ``{a,b}`` matches either alternative (not nested; one
    input may read workflows and composite actions, ``{.github/workflows/*.yml,**/action.yml}``).
    Raises ``CompliancegateError`` for an empty or absolute pattern.
    """
    if not pattern or pattern.startswith("/") or "\\" in pattern:
        raise CompliancegateError(
            f"bad glob {pattern!r}: use a relative, /-separated pattern such as deploy/*.yaml"
        )
    try:
        return re.compile(_glob_regex(pattern) + r"\Z")
    except re.error as exc:
        raise CompliancegateError(f"bad glob {pattern!r}: {exc}") from None


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        end = pattern.find("}", i + 1) if pattern[i] == "{" else -1
        if end != -1 and "," in pattern[i + 1 : end]:
            # As in the shell, braces without a comma are literal.
            alternatives = pattern[i + 1 : end].split(",")
            if "{" in pattern[i + 1 : end] or any(a.startswith("/") for a in alternatives):
                raise CompliancegateError(
                    f"bad glob {pattern!r}: {{...}} takes relative alternatives and does not nest"
                )
            out.append("(?:" + "|".join(_glob_regex(a) for a in alternatives) + ")")
            i = end + 1
        elif pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                # Literal in a glob class, but nested sets and set operations ([, &&, ~~,
                # ||, --) to re, which warns now and may change their meaning later.
                body = re.sub(r"[\[&~|]|(?<=-)-", lambda m: "\\" + m.group(), body)
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class FileEntry:
    """A file a check may read."""

    path: Path
    relative: str
    """Path relative to the root it was found under, ``/``-separated (globs match this)."""
    display: str
    """Path shown to users and used in fingerprints: relative to the working directory."""
    outside: str | None = None
    """Where a symbolic link found in the release leads, when that is outside every path
    given to the check: such a file is never read."""


@dataclass(frozen=True)
class Selection:
    """The artifacts an input selected, and the files that could not be read."""

    artifacts: tuple[Artifact, ...]
    errors: tuple[ArtifactError, ...]
    files: tuple[str, ...]
    missing: str | None = None
    """Why nothing was selected, when there is more to say than "no file matched"."""


def _location(path: Path) -> Path:
    """Where ``path`` is: its folder resolved, its own name kept (a link is not followed)."""
    return _resolved(path.parent) / path.name


def _resolved(path: Path) -> Path:
    """``path.resolve()``; the absolute path when symbolic links loop (Python < 3.13 raises
    ``RuntimeError`` there), so a link loop is reported when read, not as a crash."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def _display(path: Path) -> str:
    # The path as found (symbolic links not followed), so messages name the file the user
    # has; a dangling link must not be reported under its target's name.
    cwd = Path.cwd()
    for candidate, base in ((Path(os.path.abspath(path)), cwd), (_resolved(path), _resolved(cwd))):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or path.is_relative_to(folder) for folder in folders)


def discover(roots: Sequence[Path], excludes: Iterable[str] = DEFAULT_EXCLUDES) -> list[FileEntry]:
    """Every file under ``roots`` (a root that is a file is itself an entry), sorted.

    Symbolic links to folders are not followed (a link loop must not hang the gate), unless
    they lead out of the release: then they are entries that are refused when read, as are
    links to files outside it (``FileEntry.outside``). The release is the folders given
    (their real locations) and the folders holding the files given. A root that does not
    exist raises ``ArtifactError``.
    """
    skip = set(excludes)
    entries: dict[Path, FileEntry] = {}
    release = [
        _resolved(root) if root.is_dir() else _resolved(Path(os.path.abspath(root)).parent)
        for root in roots
    ]
    for root in roots:
        if not root.exists():
            raise ArtifactError(
                "no such file or directory",
                file=str(root),
                hint="pass the folder holding the release's evidence",
            )
        if not root.is_dir():
            real = _resolved(root)
            outside = str(real) if root.is_symlink() and not _inside(real, release) else None
            entries.setdefault(real, FileEntry(root, root.name, _display(root), outside))
            continue
        for folder, dirnames, filenames in os.walk(root):
            base = Path(folder)
            kept = []
            for name in sorted(d for d in dirnames if d not in skip):
                if (base / name).is_symlink():
                    # Not walked; a link out of the release is reported when read.
                    filenames.append(name)
                else:
                    kept.append(name)
            dirnames[:] = kept
            for filename in filenames:
                path = base / filename
                relative = path.relative_to(root).as_posix()
                real = _resolved(path)
                if path.is_symlink() and not _inside(real, release):
                    entry = FileEntry(path, relative, _display(path), outside=str(real))
                    entries.setdefault(Path(os.path.abspath(path)), entry)
                    continue
                if real.is_dir():
                    continue  # a link to a folder inside the release, walked as itself
                entries.setdefault(real, FileEntry(path, relative, _display(path)))
    return sorted(entries.values(), key=lambda e: e.display)


@dataclass
class ArtifactStore:
    """Discovered files, their detected formats and parsed artifacts, each computed once."""

    roots: Sequence[Path]
    forced: Sequence[tuple[str, str]] = ()
    """(glob, format) pairs from the config's ``artifacts`` list: the format of such files."""
    excludes: Iterable[str] = DEFAULT_EXCLUDES
    max_bytes: int = DEFAULT_MAX_BYTES
    git_base: str | None = None
    """The ref that ``changed_files`` of ``input: git`` is computed against (``--git-base``);
    None: the previous tag."""
    now: dt.datetime | None = None
    """The run's clock (``Source.now``); None: the wall clock."""
    outputs: Iterable[Path] = ()
    """The files this run writes (its reports): never its evidence, so a rerun in the same
    workspace does not read the last run's JUnit or SARIF report. Compared by location, not
    by what a link there leads to: a report path linked to the scanner's report must not
    hide the scanner's report."""
    keep_trees: bool = True
    """Keep a file's parsed JSON tree after its normalized formats have read it. False
    (``check`` when no policy reads a file raw: by syntax or by glob) frees it once every
    format claiming the file is parsed: the raw tree of a 200 MB report is 400 MB that the
    policies, reading the normalized document, never look at again. A raw read after that
    parses the file's bytes again."""
    parses: int = 0
    """How many (file, format) parses ran: lets tests prove each file is parsed once."""
    _files: list[FileEntry] | None = None
    _sources: dict[Path, Source] = field(default_factory=dict)
    _claimed: dict[Path, tuple[ArtifactFormat, ...]] = field(default_factory=dict)
    _parsed: dict[tuple[Path, str], list[Artifact] | ArtifactError] = field(default_factory=dict)
    _unreadable: dict[Path, ArtifactError] = field(default_factory=dict)
    _git: Selection | None = None

    @property
    def files(self) -> list[FileEntry]:
        """Every discovered file (walked once)."""
        if self._files is None:
            found = discover(self.roots, self.excludes)
            written = {_location(p) for p in self.outputs}
            self._files = [e for e in found if _location(e.path) not in written]
        return self._files

    def source(self, entry: FileEntry) -> Source:
        """The one ``Source`` of a file."""
        source = self._sources.get(entry.path)
        if source is None:
            refusal = None
            if entry.outside is not None:
                refusal = ArtifactError(
                    f"is a symbolic link leading out of the release (to {entry.outside}); "
                    "it is not read",
                    file=entry.display,
                    hint="copy the file into the release folder, or pass its folder to check",
                )
            source = Source(
                entry.path,
                entry.display,
                max_bytes=self.max_bytes,
                refusal=refusal,
                now=self.now,
            )
            self._sources[entry.path] = source
        return source

    def read_digests(self) -> dict[str, str]:
        """SHA-256 of every file read whole during the run, by its display path (with the
        files an artifact's verdict rests on, such as the file an evidence sidecar
        attests)."""
        digests = {}
        for source in self._sources.values():
            digest = source.read_sha256
            if digest is not None:
                digests[source.display] = digest
            digests.update(source.also_judged)
        return digests

    def formats_of(self, entry: FileEntry) -> tuple[ArtifactFormat, ...]:
        """The forced format of a file, else every format claiming it (detection order);
        empty when it is not an artifact. Several formats claim a file that holds several
        normalized documents (a CycloneDX BOM's components and its vulnerabilities)."""
        if entry.path not in self._claimed:
            claimed: tuple[ArtifactFormat, ...] = ()
            for pattern, name in self.forced:
                if compile_glob(pattern).match(entry.relative):
                    fmt = get_format(name)
                    claimed = (fmt,) if fmt is not None else ()
                    break
            else:
                try:
                    claimed = tuple(formats_for(self.source(entry)))
                except ArtifactError as exc:
                    # Unreadable: it cannot be typed by content, so it is an error for every
                    # policy that could have read it (see unreadable_for).
                    self._unreadable[entry.path] = exc
                    claimed = ()
            self._claimed[entry.path] = claimed
        return self._claimed[entry.path]

    def unreadable(self, entry: FileEntry) -> ArtifactError | None:
        """Why the file cannot be read (not a regular file, a link out of the release, of a
        known syntax and over the size limit...), or None."""
        self.formats_of(entry)
        return self._unreadable.get(entry.path)

    def unreadable_for(self, entry: FileEntry, wanted: str) -> ArtifactError | None:
        """Why a file that could not be read (not a regular file, a link out of the release,
        over the size limit, unreadable) would have been read for ``wanted`` (a kind, a
        format or a syntax): its name's suffix gives a syntax that some format of ``wanted``
        reads, or it has no known suffix. None when the file was read, or cannot be one.

        A file that cannot be read cannot be typed by content: rather than guess that it is
        not a report, each policy that could have read it ends in error naming it.
        """
        error = self.unreadable(entry)
        if error is None:
            return None
        syntax = suffix_syntax(entry.path.name)
        if syntax is None:
            return error
        syntaxes = {f.syntax for f in formats().values() if wanted in (f.name, f.kind)}
        return error if syntax in syntaxes else None

    def format_of(self, entry: FileEntry) -> ArtifactFormat | None:
        """The forced or detected format of a file; None when it is not an artifact."""
        claimed = self.formats_of(entry)
        return claimed[0] if claimed else None

    def format_for(self, entry: FileEntry, wanted: str | None) -> ArtifactFormat | None:
        """The first format claiming the file whose name or kind is ``wanted`` (the
        ``cyclonedx-vex`` reading of a BOM for ``vulnerabilities``); the detected format
        when ``wanted`` is None; None when no claiming format gives ``wanted``."""
        if wanted is None:
            return self.format_of(entry)
        return next((f for f in self.formats_of(entry) if wanted in (f.name, f.kind)), None)

    def artifacts(self, entry: FileEntry, fmt: ArtifactFormat) -> list[Artifact]:
        """Parse ``entry`` as ``fmt`` (once); raises the cached ``ArtifactError`` on failure."""
        key = (entry.path, fmt.name)
        cached = self._parsed.get(key)
        if cached is None:
            self.parses += 1
            try:
                # Normalizing builds as many objects as parsing did: the collector is paused
                # for it too (see collector_paused).
                with collector_paused():
                    cached = fmt.parse(self.source(entry))
            except ArtifactError as exc:
                cached = exc
            except RecursionError:
                cached = ArtifactError("nesting too deep to read", file=entry.display)
            except Exception as exc:
                # Fail closed at the one place every parser is called: the policies reading
                # this file end in error (which blocks) and every other result is kept.
                cached = ArtifactError(
                    f"the {fmt.name} parser failed: {type(exc).__name__}: {exc}",
                    file=entry.display,
                    hint="this is a bug in compliancegate; please report it with the file",
                )
            self._parsed[key] = cached
            if not self.keep_trees and fmt.kind != RAW_KIND:
                claimed = self._claimed.get(entry.path, ())
                parsed = self._parsed
                if all(f.kind != RAW_KIND and (entry.path, f.name) in parsed for f in claimed):
                    self.source(entry).forget_json()
        if isinstance(cached, ArtifactError):
            raise cached
        return cached

    def select(self, spec: InputSpec) -> Selection:
        """The artifacts a policy's ``input`` names, and errors for files it could not read."""
        if spec.kind == "git" and spec.glob is None:
            return self._git_selection()
        chosen: list[tuple[FileEntry, ArtifactFormat | None]] = []
        unreadable: list[ArtifactError] = []
        if spec.glob is not None:
            pattern = compile_glob(spec.glob)
            forced = get_format(spec.format) if spec.format else None
            for entry in self.files:
                if pattern.match(entry.relative) or pattern.match(entry.display):
                    chosen.append((entry, forced or self.format_of(entry)))
        else:
            wanted = spec.kind or ""
            raw = get_format(wanted) if wanted in SYNTAXES else None
            for entry in self.files:
                refused = self.unreadable_for(entry, wanted)
                if refused is not None:
                    unreadable.append(refused)
                    continue
                if raw is not None:
                    fmt = self.format_of(entry)
                    if fmt is not None and fmt.syntax == raw.syntax:
                        chosen.append((entry, raw))
                    continue
                # A kind or a format: any format claiming the file may give it, not only
                # the detected one (the vulnerabilities of a CycloneDX SBOM).
                fmt = self.format_for(entry, wanted)
                if fmt is not None:
                    chosen.append((entry, fmt))
        artifacts: list[Artifact] = []
        errors: list[ArtifactError] = unreadable
        said: set[str] = set()
        for entry, fmt in chosen:
            if fmt is None:
                refused = self.unreadable(entry)
                if refused is not None:
                    errors.append(refused)
                    continue
                errors.append(
                    ArtifactError(
                        "matched the policy's glob but its format is unknown",
                        file=entry.display,
                        hint="name the format in the policy's input: {glob: ..., format: json}",
                    )
                )
                continue
            try:
                artifacts.extend(self.artifacts(entry, fmt))
            except ArtifactError as exc:
                # Said once: the templates of one Helm chart share one error.
                if str(exc) not in said:
                    said.add(str(exc))
                    errors.append(exc)
        return Selection(
            tuple(_combined(artifacts)), tuple(errors), tuple(e.display for e, _ in chosen)
        )

    def _git_selection(self) -> Selection:
        """``input: git``: the repository holding the first check path, read once per run.

        No repository at all is missing evidence, like any absent artifact: a required git
        policy fails, an optional one is not applicable (a release folder exported from its
        repository can still be gated on everything else). A repository that cannot be read
        is an error: the policies on it end in ``error`` and block.
        """
        if self._git is None:
            from compliancegate.artifacts.git import NotARepository, read_repository

            start = self.roots[0] if self.roots else Path(".")
            try:
                artifact = read_repository(start, self.git_base)
            except NotARepository as exc:
                # One line: it becomes a violation message; the hint is for errors.
                self._git = Selection((), (), (), missing=f"{exc.file}: {exc.message}")
            except ArtifactError as exc:
                self._git = Selection((), (exc,), ())
            else:
                self._git = Selection((artifact,), (), (artifact.path,))
        return self._git


def _combined(artifacts: list[Artifact]) -> list[Artifact]:
    """Documents of a kind that combines (two scanners' reports) become one; raw documents
    and kinds evaluated per file stay as they are, in order."""
    by_kind: dict[str, list[Artifact]] = {}
    for artifact in artifacts:
        by_kind.setdefault(artifact.kind, []).append(artifact)
    out: list[Artifact] = []
    for kind, group in by_kind.items():
        out.extend(group if kind == RAW_KIND else combine(kind, group))
    return out
