"""Many threads on one Recognizer, and close() while calls are in flight."""
from __future__ import annotations

import threading
import time

import pytest

from lpr_edge import Recognizer
from lpr_edge.errors import ClosedError

from ..conftest import BANDS, toy_crop, toy_spec


def test_stress_shared_and_per_thread_match_single_thread(toy_model_path):
    spec = toy_spec()
    patterns = [BANDS, ["A"] * 8, ["B", "C"] * 4, ["C", "", "", "A"] * 2]
    crops = [toy_crop(patterns[i % 4], spec) for i in range(13)]
    with Recognizer(toy_model_path, max_batch=4) as rec:
        expect = [r.text for r in rec.recognize_batch(crops)]
    shared = Recognizer(toy_model_path, max_batch=4)
    mismatches, errors = [], []
    stop = time.time() + 2.0

    def run(own):
        r = Recognizer(toy_model_path, max_batch=4) if own else shared
        try:
            while time.time() < stop:
                got = [x.text for x in r.recognize_batch(crops)]
                if got != expect:
                    mismatches.append(got)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            if own:
                r.close()

    threads = [threading.Thread(target=run, args=(k % 2 == 0,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    shared.close()
    assert not mismatches and not errors and not any(t.is_alive() for t in threads)


def test_close_while_calls_in_flight_does_not_deadlock(toy_model_path):
    spec = toy_spec()
    rec = Recognizer(toy_model_path, max_batch=4)
    outcomes = []

    def caller():
        for _ in range(200):
            try:
                rec.recognize_batch([toy_crop(BANDS, spec)] * 4)
                outcomes.append("ok")
            except ClosedError:
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    rec.close()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert "closed" in outcomes and set(outcomes) <= {"ok", "closed"}



def test_threads_spin_only_while_a_run_lasts_and_can_be_turned_off():
    """Several sessions in one process fought over the cores while ONNX Runtime's threads spun between
    runs (benchmarks/side_by_side.py): by default they stop when a run returns; spin=False / --no-spin
    lets them never spin."""
    import numpy as np

    from lpr_edge import Recognizer, synth
    from lpr_edge.cli import build_parser

    crops = [p.image for p in synth.generate(6, seed=8)]
    with Recognizer("us") as spinning, Recognizer("us", spin=False) as sleeping:
        entry = "session.intra_op.allow_spinning"
        assert sleeping._backend._session.get_session_options().get_session_config_entry(entry) == "0"
        with pytest.raises(RuntimeError):  # unset: ONNX Runtime's default, spinning within a run
            spinning._backend._session.get_session_options().get_session_config_entry(entry)
        stop = spinning._backend._session.get_session_options().get_session_config_entry("session.force_spinning_stop")
        assert stop == "1"  # ... and no longer after it
        a, b = spinning.recognize_batch(crops), sleeping.recognize_batch(crops)
    assert [r.text for r in a] == [r.text for r in b]
    assert np.allclose([r.confidence for r in a], [r.confidence for r in b])
    assert build_parser().parse_args(["recognize", "--no-spin", "x.png"]).spin is False
    assert build_parser().parse_args(["bench", "--no-spin"]).spin is False
