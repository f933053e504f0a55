"""The runner's file helpers: hashFiles as GitHub computes it, packing, and byte ranges."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.http.reads.byte_ranges import Unsatisfiable, parse_ranges
from adapters.runner.files.hashfiles import evaluate_key
from adapters.runner.files.packing import TarFailed, entries, matched, pack, unpack


def test_hash_files_hashes_each_matched_file_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.lock").write_bytes(b"one")
    (tmp_path / "b" / "c.lock").write_bytes(b"two")
    expected = hashlib.sha256(
        hashlib.sha256(b"one").digest() + hashlib.sha256(b"two").digest()
    ).hexdigest()
    assert evaluate_key("k-${{ hashFiles('**/*.lock') }}", tmp_path) == f"k-{expected}"
    # The globs' order does not matter, a file matched twice counts once, none is "".
    both = "${{ hashFiles('b/c.lock', 'a.lock', '*.lock') }}"
    assert evaluate_key(both, tmp_path) == expected
    assert evaluate_key("k-${{ hashFiles('*.none') }}", tmp_path) == "k-"


def test_packing_keeps_relative_paths_and_unpacking_refuses_escapes(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "r" / "s").mkdir(parents=True)
    (work / "r" / "s" / "x.xml").write_text("x")
    (work / "r" / "y.txt").write_text("y")
    (work / "outside").symlink_to(tmp_path)
    found = entries(work, matched(work, ["r/**/*.xml", "outside/*"]))
    assert [p.relative_to(work).as_posix() for p in found] == ["r/s/x.xml"]
    pack(work, found, tmp_path / "a.tar")
    unpack(tmp_path / "a.tar", tmp_path / "into")
    assert (tmp_path / "into" / "r" / "s" / "x.xml").read_text() == "x"

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"!"))
    with pytest.raises(TarFailed, match=r"contains '\.\.'"):
        unpack(evil, tmp_path / "safe")
    assert not (tmp_path / "escaped").exists()

    # A link through which a later member would land outside is not followed.
    sneaky = tmp_path / "sneaky.tar"
    with tarfile.open(sneaky, "w") as tar:
        link = tarfile.TarInfo("out")
        link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path / "target")
        tar.addfile(link)
        member = tarfile.TarInfo("out/planted")
        member.size = 1
        tar.addfile(member, io.BytesIO(b"!"))
    (tmp_path / "target").mkdir()
    with pytest.raises(TarFailed):
        unpack(sneaky, tmp_path / "safe2")
    assert not (tmp_path / "target" / "planted").exists()


@given(st.integers(1, 10_000), st.integers(0, 20_000), st.integers(0, 20_000))
def test_a_range_is_the_slice_it_names(size: int, first: int, last: int) -> None:
    data = range(size)
    for header, wanted in (
        (f"bytes={first}-{last}", data[first : last + 1] if first <= last else None),
        (f"bytes={first}-", data[first:]),
        (f"bytes=-{last}", data[-last:] if last else None),
    ):
        if wanted is None or len(wanted) == 0:
            with pytest.raises(Unsatisfiable):
                parse_ranges(header, size)
        else:
            ((start, end),) = parse_ranges(header, size)
            assert data[start:end] == wanted, header
