#!/usr/bin/env python3
"""Write deployment/.env from deployment/.env.example, generating every empty secret.

    python3 deployment/stack_env.py                 # writes deployment/.env if it is missing
    python3 deployment/stack_env.py --force         # replaces it (new secrets: the stack's
                                                    # volumes keep the old passwords!)
    python3 deployment/stack_env.py --check         # exit 1 if a secret in .env is empty

Standard library only, so it runs before any virtual environment exists. A variable is a
secret when its name ends in _PASSWORD, _SECRET, _SECRET_KEY, _API_KEY or _FERNET_KEY;
values already present in the example are copied as they are.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET_NAME = re.compile(r"(_PASSWORD|_SECRET|_SECRET_KEY|_API_KEY|_FERNET_KEY)$")
ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def is_secret(name: str) -> bool:
    """True for variables that must hold a generated secret."""
    return bool(SECRET_NAME.search(name))


def generate_secret(name: str) -> str:
    """A random value suited to the variable (Fernet keys have a fixed format)."""
    if name.endswith("FERNET_KEY"):
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    # URL-safe: database passwords are embedded in connection URLs.
    return secrets.token_urlsafe(32)


def render_env(example: str) -> str:
    """The example's text with every empty secret filled in; comments are kept."""
    lines = []
    for line in example.splitlines():
        match = ASSIGNMENT.match(line)
        if match and is_secret(match["name"]) and not match["value"].strip():
            lines.append(f"{match['name']}={generate_secret(match['name'])}")
        elif match and match["name"] == "AIRFLOW_PARALLELISM":
            lines.append(f"AIRFLOW_PARALLELISM={os.cpu_count() or 2}")  # a task slot per core
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def parse_env(text: str) -> dict[str, str]:
    """Variables of a dotenv file (no quoting or interpolation is used in ours)."""
    values = {}
    for line in text.splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            values[match["name"]] = match["value"].strip()
    return values


def empty_secrets(text: str) -> list[str]:
    """Names of secrets that are empty in a dotenv file."""
    return [name for name, value in parse_env(text).items() if is_secret(name) and not value]


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=HERE / ".env.example")
    parser.add_argument("--output", type=Path, default=HERE / ".env")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.add_argument("--check", action="store_true", help="only check the existing file")
    args = parser.parse_args(argv)

    if args.check:
        if not args.output.exists():
            print(f"{args.output} is missing: run `make stack-env`", file=sys.stderr)
            return 1
        missing = empty_secrets(args.output.read_text())
        if missing:
            print(f"empty secrets in {args.output}: {', '.join(missing)}", file=sys.stderr)
            return 1
        print(f"{args.output}: every secret is set")
        return 0

    if args.output.exists() and not args.force:
        print(f"{args.output} exists; kept as it is (use --force to regenerate)")
        return 0
    text = render_env(args.example.read_text())
    write_private(args.output, text)
    generated = [name for name in parse_env(text) if is_secret(name)]
    print(f"wrote {args.output} with {len(generated)} generated secrets (mode 600)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
