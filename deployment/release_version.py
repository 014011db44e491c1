#!/usr/bin/env python3
"""The next release version of fraudops (the CD workflow's meta job; rule in
deployment/DEPLOYMENT_GUIDE.md, "Releases and versions").

    python3 deployment/release_version.py --tags "$(git tag --list 'v*')" \\
        --labels "release:minor,bug" --bump auto

The rule, which does not depend on how commit messages are written:
- the last release is the highest ``vX.Y.Z`` tag; without one, the first release is
  ``[project].version`` of pyproject.toml;
- otherwise the next release bumps it: ``--bump major|minor|patch`` when CD is started by
  hand with that input, else the merged pull request's label ``release:major`` or
  ``release:minor``, else a patch;
- a ``[project].version`` above the result wins (a bump made by hand in pyproject.toml).

Standard library only; prints the version on stdout.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

Version = tuple[int, int, int]
BUMPS = ("major", "minor", "patch")
TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str) -> Version:
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    if not match:
        raise ValueError(f"not a MAJOR.MINOR.PATCH version: {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def released(tags: list[str]) -> list[Version]:
    """Versions of the release tags (vX.Y.Z); other tags are ignored."""
    return [parse_version(tag) for tag in tags if TAG.match(tag.strip())]


def bump_kind(bump: str, labels: list[str]) -> str:
    """An explicit bump wins; else the pull request's release label; else a patch."""
    if bump in BUMPS:
        return bump
    if bump != "auto":
        raise ValueError(f"--bump must be auto, major, minor or patch, got {bump!r}")
    names = {label.strip().lower() for label in labels}
    for kind in ("major", "minor"):
        if f"release:{kind}" in names:
            return kind
    return "patch"


def bumped(version: Version, kind: str) -> Version:
    major, minor, patch = version
    if kind == "major":
        return major + 1, 0, 0
    if kind == "minor":
        return major, minor + 1, 0
    return major, minor, patch + 1


def next_version(declared: Version, tags: list[str], bump: str, labels: list[str]) -> Version:
    kind = bump_kind(bump, labels)
    versions = released(tags)
    if not versions:
        return declared
    return max(bumped(max(versions), kind), declared)


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def declared_version(pyproject: Path) -> Version:
    with pyproject.open("rb") as handle:
        return parse_version(tomllib.load(handle)["project"]["version"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the next fraudops release version.")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--tags", default="", help="existing tags, whitespace-separated")
    parser.add_argument(
        "--labels", default="", help="labels of the merged pull request, comma-separated"
    )
    parser.add_argument("--bump", default="auto", help="auto (labels), major, minor or patch")
    args = parser.parse_args(argv)
    try:
        version = next_version(
            declared_version(args.pyproject),
            args.tags.split(),
            args.bump,
            [label for label in args.labels.split(",") if label.strip()],
        )
    except (ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_version(version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
