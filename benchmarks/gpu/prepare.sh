#!/usr/bin/env bash
# Prepare what a lent GPU machine needs for benchmarks/gpu/train_sweep.py and cannot fetch itself
# (no internet there; the working tree travels, ../shared does not, 64 MiB at most):
#   .gpu/data/openalpr-us-states  the US crops shrunk to at most 200 px wide (training downsizes to
#                                 that anyway; 65 MB -> 26 MB), same labels.csv, same split
#   .gpu/site/font_*              the train extra's font packages (the synthetic plates' faces)
# Then, with the device tool: carry [".gpu"] and run
#   export PYTHONPATH=$PWD:$PWD/.gpu/site PYTHONUNBUFFERED=1
#   python3 benchmarks/gpu/train_sweep.py --data .gpu/data/openalpr-us-states --out $OUT --deadline 470 --workers 4
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
python - <<'PY'
import csv, importlib.util, shutil
from pathlib import Path

import cv2

src, dst = Path("../shared/data/openalpr-us-states"), Path(".gpu/data/openalpr-us-states")
(dst / "images").mkdir(parents=True, exist_ok=True)
shutil.copy(src / "labels.csv", dst / "labels.csv")
for row in csv.DictReader(open(src / "labels.csv", encoding="utf-8")):
    img = cv2.imread(str(src / row["file"]))
    h, w = img.shape[:2]
    if w > 200:
        img = cv2.resize(img, (200, max(1, round(h * 200 / w))), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(dst / row["file"]), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
site = Path(".gpu/site")
site.mkdir(parents=True, exist_ok=True)
for mod in ("font_fjallaone", "font_roboto", "font_lato", "font_source_sans_pro", "font_hanken_grotesk",
            "font_manrope", "font_rhd"):
    spec = importlib.util.find_spec(mod)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{mod} is not installed: pip install -e '.[train]' first")
    shutil.copytree(Path(spec.origin).parent, site / mod, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
print(f"prepared {dst} and {site}")
PY
du -sh .gpu
