"""The one change lpr-edge makes to PyTriton: model instances 2..K wait for the first one's handshake.

PyTriton's proxy (the ``model.py``/``communication.py`` it sends to Triton's Python backend) makes every
model instance but the first fetch its configuration from the first one's handshake server, waiting 1 s
for the socket file and giving up if the socket exists but is not listening yet. Triton starts the
instances in parallel and the first one spawns its tensor store before it listens: on a loaded machine
the model fails to load (in CI, on a restart: first the 1 s timeout, then, with a longer one,
"Connection refused" between bind and listen; 3 of 3 restarts failed under 16 busy processes). The
proxy lpr-edge sends retries both until ``HANDSHAKE_WAIT_S``.

The change appends to the source PyTriton sends, so it depends on that source: it is applied only to
the PyTriton releases it was tested with (``TESTED``, the range ``setup.py`` pins), and
``tests/deploy/test_serve_options.py`` fails if a release moves what it wraps.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

TESTED = ((0, 7), (0, 8))  # PyTriton versions [from, to): what setup.py's serve extra pins
HANDSHAKE_WAIT_S = 60.0
_PATIENT_HANDSHAKE = """

# Appended by lpr-edge serve (lpr_edge/deploy/pytriton_patch.py): wait for the first instance.
_pytriton_get_config_from_handshake_server = get_config_from_handshake_server


def get_config_from_handshake_server(socket_path, timeout_s={wait!r}):
    deadline = time.time() + timeout_s
    while True:
        try:
            return _pytriton_get_config_from_handshake_server(
                socket_path, timeout_s=min(5.0, max(0.01, deadline - time.time())))
        except (TimeoutError, ConnectionRefusedError, FileNotFoundError):
            if time.time() >= deadline:
                raise
            time.sleep(0.05)
"""


def patient_handshake(source: bytes, wait_s: float = HANDSHAKE_WAIT_S) -> bytes:
    """PyTriton's ``communication.py`` whose handshake retries for ``wait_s`` (unchanged if it has none)."""
    if b"\ndef get_config_from_handshake_server(" not in source or b"\nimport time\n" not in source:
        return source
    return source + _PATIENT_HANDSHAKE.format(wait=float(wait_s)).encode()


def pytriton_version() -> tuple[int, ...]:
    """The installed PyTriton's version as numbers (``nvidia-pytriton`` 0.7.0 -> (0, 7, 0))."""
    from importlib.metadata import version

    numbers = []
    for part in version("nvidia-pytriton").split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def is_tested(installed: tuple[int, ...]) -> bool:
    return TESTED[0] <= installed[:2] < TESTED[1]


@contextmanager
def patient_instances() -> Iterator[None]:
    """While a model loads, the proxy files PyTriton sends carry :func:`patient_handshake` (on a tested
    PyTriton; on another, they are sent as they are, with a line on stderr)."""
    installed = pytriton_version()
    if not is_tested(installed):
        print(f"lpr-edge serve: PyTriton {'.'.join(map(str, installed))} is outside the tested range "
              f"{'.'.join(map(str, TESTED[0]))} to {'.'.join(map(str, TESTED[1]))} (exclusive): its proxy is left "
              "as it is, so with --instances 2 or more the model may fail to load on a busy machine",
              file=sys.stderr)
        yield
        return
    from pytriton.models.model import Model

    original = Model.get_proxy_model_files

    def proxy_files(model) -> dict[str, bytes]:
        return {key: patient_handshake(source) if key.endswith("/communication.py") else source
                for key, source in original(model).items()}

    Model.get_proxy_model_files = proxy_files
    try:
        yield
    finally:
        Model.get_proxy_model_files = original
