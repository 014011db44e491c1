"""Render the variable and output tables of deployment/DEPLOYMENT_GUIDE.md from the Terraform.

    .venv/bin/python deployment/aws/tools/render_reference.py          # print the tables
    .venv/bin/python deployment/aws/tools/render_reference.py --write  # update the guide

tests/infra checks that the guide holds exactly what this renders, so the reference can
never drift from variables.tf and outputs.tf.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[3]
TERRAFORM_DIR = REPO_ROOT / "deployment" / "aws" / "terraform"
GUIDE = REPO_ROOT / "deployment" / "DEPLOYMENT_GUIDE.md"
SECTIONS = ("variables", "outputs")


def _blocks(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        document = hcl2.load(handle)
    return {
        label.strip('"'): body for entry in document.get(kind, []) for label, body in entry.items()
    }


def _text(value: str) -> str:
    """A description as Markdown table text: no quotes from the parser, escaped <, > and |."""
    value = value[1:-1] if value.startswith('"') and value.endswith('"') else value
    value = value.replace('\\"', '"')
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render_value(value: Any) -> str:
    """An HCL literal as written in variables.tf (python-hcl2 keeps string quotes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(render_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = {key: item for key, item in value.items() if not key.startswith("__")}
        if not items:
            return "{}"
        pairs = ", ".join(f"{key} = {render_value(item)}" for key, item in items.items())
        return "{ " + pairs + " }"
    return str(value)


def variables_table() -> str:
    rows = ["| Variable | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, body in _blocks(TERRAFORM_DIR / "variables.tf", "variable").items():
        kind = str(body["type"])
        kind = kind[2:-1] if kind.startswith("${") else kind
        default = "*required*" if "default" not in body else f"`{render_value(body['default'])}`"
        rows.append(f"| `{name}` | `{kind}` | {default} | {_text(body['description'])} |")
    return "\n".join(rows)


def outputs_table() -> str:
    rows = ["| Output | Meaning |", "| --- | --- |"]
    for name, body in _blocks(TERRAFORM_DIR / "outputs.tf", "output").items():
        rows.append(f"| `{name}` | {_text(body['description'])} |")
    return "\n".join(rows)


def rendered() -> dict[str, str]:
    return {"variables": variables_table(), "outputs": outputs_table()}


def section_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN {name} [^>]*-->\n)(.*?)(\n<!-- END {name} -->)", re.DOTALL)


def write_guide() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for name, table in rendered().items():
        text, count = section_pattern(name).subn(lambda m, t=table: f"{m[1]}\n{t}\n{m[3]}", text)
        if count != 1:
            raise SystemExit(f"{GUIDE}: no <!-- BEGIN {name} ... --> / <!-- END {name} --> block")
    GUIDE.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the guide in place")
    if parser.parse_args().write:
        write_guide()
    else:
        print("\n\n".join(rendered().values()))


if __name__ == "__main__":
    main()
