"""SHA-256 manifest of the files copied from ../shared into tests/ (golden tables, scenarios).

The copies travel with the repository (a clone has no ../shared); the manifest, committed beside
them, lets every clone check that they are the files they were copied as, and a checkout with
../shared also checks them against the originals (tests/test_golden.py).

    python tests/manifest.py            # check the copies (and against ../shared when present)
    python tests/manifest.py --write    # after copying files from ../shared: rewrite the manifest

A copied directory is one of COPIED that exists under tests/, any directory already in the
manifest, and (with --write) any tests/ directory named like a directory of ../shared; so a
directory copied later (tests/golden2/, say) is covered by running --write once.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "shared-copies.sha256"
#: Directories of tests/ that are copies of ../shared's directories of the same name.
COPIED = ("golden", "golden2", "scenarios")
#: Copies that must hold every file of their ../shared original (the docking cases and their tables);
#: other copied directories may hold a subset (the scenarios that the copied cases use).
COMPLETE = ("golden", "golden2")


def shared_root() -> Path:
    """../shared beside the repository, or $CREDSIM_SHARED (a worktree elsewhere)."""
    return Path(os.environ.get("CREDSIM_SHARED") or HERE.parent.parent / "shared")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(manifest: Path = MANIFEST) -> dict[str, str]:
    """{relative path: sha256} from a manifest in ``sha256sum`` format."""
    out = {}
    for line in manifest.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, rel = line.split(None, 1)
            out[rel.strip()] = digest
    return out


def copied_dirs(root: Path, manifest: dict[str, str] | None = None, shared: Path | None = None) -> list[str]:
    """Names of the copied directories under ``root`` (see the module's docstring)."""
    names = {d for d in COPIED if (root / d).is_dir()}
    names |= {rel.split("/", 1)[0] for rel in manifest or {}}
    if shared is not None and shared.is_dir():
        names |= {d.name for d in shared.iterdir() if d.is_dir() and (root / d.name).is_dir()}
    return sorted(names)


def build(root: Path, dirs: list[str]) -> dict[str, str]:
    """{relative path: sha256} of every file in ``dirs`` under ``root``."""
    out = {}
    for d in dirs:
        for f in sorted((root / d).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                out[f.relative_to(root).as_posix()] = sha256(f)
    return out


def check(root: Path, manifest: dict[str, str]) -> list[str]:
    """What differs between the copies under ``root`` and the manifest (empty: all equal)."""
    if not manifest:
        return ["the manifest is empty"]
    problems = []
    actual = build(root, copied_dirs(root, manifest))
    for rel, digest in sorted(manifest.items()):
        if rel not in actual:
            problems.append(f"{rel}: in the manifest, missing")
        elif actual[rel] != digest:
            problems.append(f"{rel}: changed (sha256 {actual[rel][:12]}…, manifest {digest[:12]}…)")
    for rel in sorted(set(actual) - set(manifest)):
        problems.append(f"{rel}: not in the manifest (run `python tests/manifest.py --write` after copying)")
    return problems


def check_shared(root: Path, shared: Path, manifest: dict[str, str]) -> list[str]:
    """What differs between the copies named in the manifest and their originals in ``shared``."""
    problems = []
    for rel, digest in sorted(manifest.items()):
        original = shared / rel
        if not original.is_file():
            problems.append(f"{rel}: not in {shared}")
        elif sha256(original) != digest:
            problems.append(f"{rel}: differs from {original}")
    for d in {rel.split("/", 1)[0] for rel in manifest} & set(COMPLETE):
        for f in sorted((shared / d).iterdir()) if (shared / d).is_dir() else []:
            rel = f"{d}/{f.name}"
            if f.is_file() and rel not in manifest:
                problems.append(f"{rel}: in {shared} but not copied into tests/")
    return problems


def write(root: Path = HERE, manifest: Path = MANIFEST) -> dict[str, str]:
    entries = build(root, copied_dirs(root, read(manifest) if manifest.exists() else None, shared_root()))
    lines = ["# sha256 of the files copied from ../shared; regenerate: python tests/manifest.py --write"]
    lines += [f"{digest}  {rel}" for rel, digest in sorted(entries.items())]
    manifest.write_text("\n".join(lines) + "\n", "utf-8")
    return entries


def main(argv: list[str]) -> int:
    if argv[1:] == ["--write"]:
        entries = write()
        print(f"{MANIFEST.name}: {len(entries)} files in {', '.join(copied_dirs(HERE, entries))}")
        return 0
    if argv[1:]:
        print(__doc__.strip().splitlines()[0], "\nusage: python tests/manifest.py [--write]", file=sys.stderr)
        return 2
    manifest = read()
    problems = check(HERE, manifest)
    shared = shared_root()
    if shared.is_dir():
        problems += check_shared(HERE, shared, manifest)
    for p in problems:
        print(p, file=sys.stderr)
    print(
        f"{len(manifest)} copied files: {'OK' if not problems else f'{len(problems)} problems'}"
        f"{'' if shared.is_dir() else ' (no ../shared here: checked against the manifest only)'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
