"""A picture of what went wrong: the misread crops with label, reading and confidence
(``lpr-edge eval --errors-image OUT.png``)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..errors import OutputError

TILE_W, TILE_H, TEXT_H = 192, 64, 34


def _tile(crop: np.ndarray, label: str, reading: str, confidence: float) -> np.ndarray:
    tile = np.full((TILE_H + TEXT_H, TILE_W, 3), 255, np.uint8)
    h, w = crop.shape[:2]
    scale = min(TILE_W / w, TILE_H / h)
    small = cv2.resize(crop, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    y, x = (TILE_H - small.shape[0]) // 2, (TILE_W - small.shape[1]) // 2
    tile[y:y + small.shape[0], x:x + small.shape[1]] = small
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(tile, f"label {label}", (4, TILE_H + 13), font, 0.42, (0, 110, 0), 1, cv2.LINE_AA)
    cv2.putText(tile, f"read  {reading or '-'}  {confidence:.2f}", (4, TILE_H + 29), font, 0.42, (0, 0, 190), 1,
                cv2.LINE_AA)
    return tile


def contact_sheet(crops: Sequence[np.ndarray], labels: Sequence[str], readings: Sequence[str],
                  confidences: Sequence[float], columns: int = 6) -> np.ndarray:
    """One image: a grid of tiles, most confident misreads first (those are the dangerous ones)."""
    order = np.argsort(-np.asarray(confidences, np.float64), kind="stable") if len(crops) else []
    tiles = [_tile(crops[i], labels[i], readings[i], confidences[i]) for i in order]
    if not tiles:
        tiles = [np.full((TILE_H + TEXT_H, TILE_W, 3), 255, np.uint8)]
        cv2.putText(tiles[0], "no misreads", (40, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 110, 0), 1, cv2.LINE_AA)
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (TILE_H + TEXT_H + 4), min(columns, len(tiles)) * (TILE_W + 4), 3), 200, np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        y, x = r * (TILE_H + TEXT_H + 4), c * (TILE_W + 4)
        sheet[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return sheet


def encode_png(sheet: np.ndarray) -> bytes:
    """The sheet as PNG bytes."""
    ok, data = cv2.imencode(".png", sheet)
    if not ok:
        raise OutputError("cannot encode the contact sheet as PNG")
    return data.tobytes()

