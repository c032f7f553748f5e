"""Git ledger history: run ``python benchmarks/ledger_history_bench.py`` from the repository
root.

Builds a branch of N commits (one signed batch of one record each, the shape ``check``
writes) with ``git fast-import``, then times what ``ledger verify --pubkey`` does on a fresh
runner: fetch, replay the tip, walk every commit's ``head.json`` and check every signature.
Sizes 1,000, 2,000 and 4,000 commits, so that the growth can be read off.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from ledger_bench import run

from compliancegate.ledger.chain import EMPTY
from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.files import Head, encode_head
from compliancegate.ledger.gitstore import GitStore, parse_git_location
from compliancegate.ledger.signed import append_head
from compliancegate.ledger.state import StateBuilder
from compliancegate.signing.keys import generate


def build(remote: Path, commits: int, key_path: Path) -> None:
    """A bare repository whose branch ``ledger`` has ``commits`` signed batches."""
    key, _ = generate(key_path)
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    state = StateBuilder()
    records, heads, head = b"", b"", EMPTY
    stream = bytearray()
    for n in range(1, commits + 1):
        # A clean run a commit, as a compliant pipeline records.
        linked = build_batch(state, head, (), [run(n, ())]).linked
        records, head = records + linked.data, linked.head
        heads = append_head(heads, key, head)
        stream += b"commit refs/heads/ledger\n"
        stream += f"committer b <b@b> {1700000000 + n} +0000\ndata 1\nx\n".encode()
        for name, blob in (
            ("head.json", encode_head(Head(head))),
            ("heads.jsonl", heads),
            ("records.jsonl", records),
        ):
            stream += f"M 100644 inline {name}\ndata {len(blob)}\n".encode() + blob + b"\n"
    subprocess.run(
        ["git", "--git-dir", str(remote), "fast-import", "--quiet"], input=bytes(stream), check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,2000,4000")
    args = parser.parse_args()
    from compliancegate.signing.keys import load_public

    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            remote = Path(tmp, "remote.git")
            build(remote, size, Path(tmp, "key"))
            pub = load_public(Path(tmp, "key.pub"))
            store = GitStore(parse_git_location(f"git:{remote}#ledger"), Path(tmp, "state"))
            started = time.perf_counter()
            report = store.verify()
            verified = time.perf_counter()
            problem = store.verify_signed([pub])
            walked = time.perf_counter()
            assert report.ok and problem is None, (report.problem, problem)
            print(
                f"{size:>6} commits: verify {verified - started:6.2f} s, history walk and "
                f"{size} signatures {walked - verified:6.2f} s"
            )


if __name__ == "__main__":
    main()
