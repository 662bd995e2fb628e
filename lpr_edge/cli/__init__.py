"""``lpr-edge`` command line: one sub-command per verb, each a thin layer over the library.

Exit codes: 0 ok, 2 bad usage or bad input, 1 any other failure. Errors are one line on stderr;
set ``LPR_EDGE_DEBUG=1`` to see tracebacks.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from ..errors import LprEdgeError

# verb -> module under lpr_edge.cli that provides add_parser(subparsers) and run(args) -> int
VERBS = {
    "recognize": "recognize",
    "eval": "evaluate",
    "bench": "bench",
    "calibrate": "calibrate",
    "build": "build",
    "train": "train",
    "export": "export",
    "framing": "framing",
    "convert": "convert",
    "serve": "serve",
    "info": "info",
}


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and no exit, so main() owns the exit code."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> Parser:
    parser = Parser(prog="lpr-edge", description="Licence-plate recognition with LPRNet: ONNX Runtime and TensorRT.")
    parser.add_argument("--version", action="version", version=f"lpr-edge {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    for verb, module in VERBS.items():
        importlib.import_module(f".{module}", __name__).add_parser(sub, verb)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    debug = bool(os.environ.get("LPR_EDGE_DEBUG"))
    try:
        from .export import with_default_target

        parser = build_parser()
        args = parser.parse_args(with_default_target(list(sys.argv[1:] if argv is None else argv)))
        if not args.verb:
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except LprEdgeError as exc:
        if debug:
            raise
        print(f"lpr-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lpr-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # handled where the process ends (main_exit)
    except Exception as exc:  # last resort: one line, never a traceback for users
        if debug:
            raise
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            # a write that is not one of the atomic ones (a training log, say) on a full or read-only disk
            print(f"lpr-edge: error: cannot write {exc.filename or 'a file'}: {exc.strerror}; free some space or "
                  "choose another path", file=sys.stderr)
            return 2
        print(f"lpr-edge: unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set LPR_EDGE_DEBUG=1 for details)", file=sys.stderr)
        return 1


def main_exit() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``lpr-edge eval ... | head``): not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
