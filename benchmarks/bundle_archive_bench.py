"""Bundle archive timings: run ``python benchmarks/bundle_archive_bench.py`` from the repository
root.

Writes an archive holding one large file member (200 MB by default: a quarter random bytes,
the rest a repeated text line, so that both compression and hashing have work to do), then
scans it and extracts it; then writes and scans 20,000 small members (the cost per header).
Each line gives the wall time, the throughput, the peak memory allocated by Python
(``tracemalloc``, in a separate traced run) and the process's peak resident size so far
(``ru_maxrss``): memory must stay flat whatever the member's size. The test suite never
asserts on time or memory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from compliancegate.bundle.archive import (
    Member,
    extract_archive,
    scan_archive,
    write_archive,
)

MIB = 1024 * 1024


def make_file(path: Path, size: int) -> str:
    """A file of ``size`` bytes written in 1 MiB chunks; its SHA-256."""
    digest = hashlib.sha256()
    line = b"compliancegate evidence line, compressible on purpose.\n" * (MIB // 56 + 1)
    with path.open("wb") as out:
        left = size
        index = 0
        while left:
            chunk = os.urandom(min(left, MIB)) if index % 4 == 0 else line[: min(left, MIB)]
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
            index += 1
    return digest.hexdigest()


def rss_mib() -> float:
    """Peak resident size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, size: int, action: Callable[[], object], traced: bool) -> None:
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    peak = f"{tracemalloc.get_traced_memory()[1] / MIB:6.1f} MiB" if traced else "  (untraced)"
    if traced:
        tracemalloc.stop()
    print(
        f"  {label:<8} {size / MIB:7.0f} MiB  {elapsed:7.2f} s  {size / MIB / elapsed:7.1f} MiB/s"
        f"   python peak {peak}   max rss {rss_mib():6.1f} MiB"
        + ("   (traced: slower)" if traced else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=200, help="size of the member")
    parser.add_argument("--level", type=int, default=6, help="gzip level")
    parser.add_argument("--small", type=int, default=20_000, help="count of small members")
    args = parser.parse_args()
    size = args.megabytes * 1000 * 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        digest = make_file(folder / "big.bin", size)
        print(
            f"one member of {size:,} bytes, gzip level {args.level};"
            f" rss at start {rss_mib():.1f} MiB"
        )
        member = Member("evidence/big.bin", path=folder / "big.bin", size=size, sha256=digest)
        target = folder / "bundle.tar.gz"
        for traced in (False, True):
            measure(
                "write", size, lambda: write_archive(target, [member], level=args.level), traced
            )
            measure("scan", size, lambda: scan_archive(target), traced)
            out = folder / f"out-{traced}"
            out.mkdir()
            measure(
                "extract",
                size,
                lambda out=out: extract_archive(target, out, {member.name: digest}),
                traced,
            )
        print(f"  archive {target.stat().st_size / MIB:.0f} MiB")
        # Many small members: the cost per header, not per byte.
        count = args.small
        small = [Member(f"runs/{i:06}.json", os.urandom(200)) for i in range(count)]
        many = folder / "many.tar.gz"
        print(f"{count:,} members of 200 bytes")
        measure("write", count * 200, lambda: write_archive(many, small), False)
        measure("scan", count * 200, lambda: scan_archive(many), False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
