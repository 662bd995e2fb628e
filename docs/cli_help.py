"""Fill each reference page's help block with the verb's real ``--help`` (``--check``: fail if stale).

    python docs/cli_help.py          # rewrite the blocks
    python docs/cli_help.py --check  # exit 1 naming the pages whose block differs (run by the tests)
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from pathlib import Path

PAGES = Path(__file__).parent / "reference" / "cli"
BLOCK = re.compile(r"(<!-- help: (?P<cmd>[^>]+?) -->\n```text\n)(?P<body>.*?)(```\n<!-- /help -->)", re.S)


def help_text(command: str) -> str:
    """What ``command`` (``lpr-edge VERB [...] --help``) prints, at a fixed width."""
    from lpr_edge.cli import main

    os.environ["COLUMNS"] = "100"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(command.split()[1:])
    return out.getvalue()


def refresh(page: Path) -> str:
    return BLOCK.sub(lambda m: m.group(1) + help_text(m.group("cmd")) + m.group(4), page.read_text())


def main(argv: list[str]) -> int:
    stale = []
    for page in sorted(PAGES.glob("*.md")):
        text = refresh(page)
        if text != page.read_text():
            stale.append(page.name)
            if "--check" not in argv:
                page.write_text(text)
    if stale and "--check" in argv:
        print(f"stale --help blocks in {', '.join(stale)}: run python docs/cli_help.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
