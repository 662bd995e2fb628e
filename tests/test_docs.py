"""The docs are a manual that builds, matches the code and stays short (issue: product, not lab)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CARDS = sorted((REPO / "lpr_edge" / "models").glob("*.md"))
PRODUCT_DOCS = [REPO / "README.md", *CARDS, *sorted((REPO / "docs").rglob("*.md"))]
# What a run diary looks like: dates, work sessions ("the fourteenth session"), run names of the lab's
# model log, "bundled since".
DIARY = re.compile(r"\b20\d\d-\d\d-\d\d\b|\b(\w+(th|st|nd|rd)|this|last|next) session\b|bundled (since|until)"
                   r"|\b(wsp1g?|wsp2|world_2x|w2x_\w+|v2[37])\b")


def test_the_docs_build_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs build needs the dev extra (mkdocs, mkdocs-material)")
    pytest.importorskip("material", reason="the docs build needs the dev extra (mkdocs, mkdocs-material)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "train" / "index.html").is_file()


@pytest.mark.skipif(not (3, 10) <= sys.version_info[:2] < (3, 13),
                    reason="argparse lays help out differently before 3.10 and from 3.13; the pages are written "
                           "with the CI's main Python")
def test_every_verb_page_shows_its_current_help():
    run = subprocess.run([sys.executable, str(REPO / "docs" / "cli_help.py"), "--check"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_readme_and_model_cards_stay_short_and_no_package_markdown_is_long():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
    assert {c.name for c in CARDS} == {"lprnet_us.md", "lprnet_br.md"}
    assert all(len(c.read_text().splitlines()) <= 200 for c in CARDS)
    assert all(p.stat().st_size <= 40_000 for p in (REPO / "lpr_edge").rglob("*.md"))


def test_the_product_docs_hold_no_run_diary():
    found = [f"{p.relative_to(REPO)}:{i}: {m.group(0)}" for p in PRODUCT_DOCS
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) for m in DIARY.finditer(line)]
    assert found == []


def test_the_docs_name_every_verb_and_every_shipped_recipe():
    from lpr_edge.cli import build_parser
    from lpr_edge.train.recipe import names

    verbs = set(build_parser()._subparsers._group_actions[0].choices)
    assert verbs == {p.stem for p in (REPO / "docs" / "reference" / "cli").glob("*.md")} - {"index"}
    train = (REPO / "docs" / "reference" / "cli" / "train.md").read_text()
    assert all(f"--recipe {name}" in train for name in names())
