"""The repository stands on its own: no code reads outside it, and every fixture has provenance."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "webhooks"
MANIFEST = FIXTURES / "MANIFEST.md"
SCANNED = ("tests", "bench", "adapters", "commands", "domain", "projections", "gateway")
TEXT = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".cfg", ".ini", ".txt"}

# A checkout beside a sibling folder is how the fixtures used to be found; these are the
# spellings that took, as a string or as pathlib joins.
OUTSIDE = (
    re.compile(r"\.\./shared"),
    re.compile(r"shared/fixtures"),
    re.compile(r"""["']shared["']\s*/\s*["']fixtures["']"""),
)
CLIMB = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\))?(?:\.parents\[(?P<n>\d+)\]|(?P<up>(?:\.parent)+))"
)
LISTED = re.compile(r"^\|\s*`(?P<file>[^`]+)`\s*\|", re.MULTILINE)


def tracked() -> list[Path]:
    # Only what git tracks: a stray local file (a venv, a cache) is no part of the repository.
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *SCANNED],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    files = [ROOT / name for name in out.split("\0") if name]
    assert files, "git ls-files found nothing: not run from a checkout?"
    return [f for f in files if f.suffix in TEXT and f != Path(__file__).resolve()]


def escapes(path: Path, text: str) -> list[str]:
    """Every way `text`, the contents of `path`, reaches for a path outside the repository."""
    found = [f"names {m[0]!r}" for p in OUTSIDE if (m := p.search(text))]
    for match in CLIMB.finditer(text):
        n = int(match["n"]) if match["n"] else match["up"].count(".parent") - 1
        target = path.parents[n]
        if not target.is_relative_to(ROOT):
            found.append(f"{match[0]} is {target}, above the repository")
    return found


def test_no_tracked_file_reads_outside_the_repository() -> None:
    offenders = {
        str(path.relative_to(ROOT)): hits
        for path in tracked()
        if (hits := escapes(path, path.read_text(errors="replace")))
    }
    assert offenders == {}


def test_a_climb_above_the_root_is_caught() -> None:
    # Without this the scan could pass by matching nothing at all.
    here = ROOT / "tests" / "helpers.py"
    assert escapes(here, "Path(__file__).resolve().parents[2]")
    assert escapes(here, "Path(__file__).parent.parent.parent")
    assert not escapes(here, "Path(__file__).resolve().parents[1]")
    assert not escapes(here, "Path(__file__).resolve().parent.parent")
    assert escapes(here, 'ROOT / "shared" / "fixtures"')


def listed() -> list[str]:
    return LISTED.findall(MANIFEST.read_text())


def test_every_listed_fixture_exists() -> None:
    names = listed()
    assert names, f"no files listed in {MANIFEST}"
    assert len(names) == len(set(names)), "a file is listed twice"
    assert [n for n in names if not (FIXTURES / n).is_file()] == []


def test_every_fixture_is_listed_with_its_provenance() -> None:
    present = {
        str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file() and p != MANIFEST
    }
    assert present == set(listed())
