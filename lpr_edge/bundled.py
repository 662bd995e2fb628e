"""The models shipped inside the package, by short name (``us``, ``br``)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelFileError

MODELS_DIR = Path(__file__).resolve().parent / "models"
BUNDLED = {
    "us": ("lprnet_us.onnx", "US plates (TAO US contract, 35 symbols, O read as 0)"),
    "br": ("lprnet_br.onnx", "Brazilian plates (LLL9999, 36 symbols with O; --plate-format br), fine-tuned from us"),
}
DEFAULT = "us"
# The labelled collection each bundled model trained on (the training side of its fixed split).
TRAINED_ON = {"us": "openalpr-us-states", "br": "openalpr-br-detector"}


def bundled_path(name: str = DEFAULT) -> Path:
    """Path of the bundled model ``name``; ModelFileError if it is unknown or missing."""
    if name not in BUNDLED:
        raise ModelFileError(f"no bundled model named {name!r}; bundled models: {', '.join(BUNDLED)}")
    path = MODELS_DIR / BUNDLED[name][0]
    if not path.is_file():
        raise ModelFileError(f"the bundled model {path} is missing; reinstall lpr-edge (pip install -e .) "
                             "or pass a model path")
    return path


def resolve_model(model: str | os.PathLike | None) -> Path:
    """A model argument as a path: None = the default bundled model, a bundled name, or a path.

    A file of that name in the working directory wins over a bundled name, so nothing a user has
    on disk is shadowed; a folder of that name does not (a model is a file).
    """
    if model is None:
        return bundled_path()
    text = os.fspath(model)
    if text in BUNDLED and not Path(text).is_file():
        return bundled_path(text)
    return Path(text)


def available() -> dict[str, Path]:
    """Bundled models present in this install, by name."""
    return {name: MODELS_DIR / file for name, (file, _) in BUNDLED.items() if (MODELS_DIR / file).is_file()}


def trained_on(model_path: str | os.PathLike, data: str | os.PathLike) -> str | None:
    """The bundled model's name if ``model_path`` is one and ``data`` is the collection it trained on."""
    for name, collection in TRAINED_ON.items():
        if Path(data).resolve().name == collection and Path(model_path) == MODELS_DIR / BUNDLED[name][0]:
            return name
    return None
