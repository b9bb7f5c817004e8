import json
from pathlib import Path

import pytest

from app.hearings import rfc3797

EXAMPLE = json.loads(Path("/work/shared/testdata/rfc3797-example.json").read_text())


def test_key_string_matches_rfc():
    assert rfc3797.key_string(EXAMPLE["sources"]) == EXAMPLE["key_string"]


def test_every_step_matches_the_rfc_worked_example():
    key = rfc3797.key_string(EXAMPLE["sources"])
    steps = rfc3797.select(key, list(range(1, EXAMPLE["pool_size"] + 1)), len(EXAMPLE["steps"]))
    assert len(steps) == len(EXAMPLE["steps"])
    for got, want in zip(steps, EXAMPLE["steps"]):
        assert got.index == want["index"]
        assert got.md5 == want["md5"]
        assert got.remaining == want["remaining"]
        assert got.selected == want["selected"]


def test_continuing_the_sequence_equals_one_long_run():
    key = rfc3797.key_string(EXAMPLE["sources"])
    pool = list(range(1, 26))
    first = rfc3797.select(key, pool, 1)
    rest = [p for p in pool if p != first[0].selected]
    more = rfc3797.select(key, rest, 9, start=1)
    assert [s.selected for s in first + more] == [s["selected"] for s in EXAMPLE["steps"]]


def test_pick_index_is_first_step_modulo_n():
    key = rfc3797.key_string(EXAMPLE["sources"])
    step = rfc3797.pick_index(key, 1000)
    assert step.position == int(EXAMPLE["steps"][0]["md5"], 16) % 1000


@pytest.mark.parametrize("text,expected", [("9319", [9319]), ("2, 5 12，8 10", [2, 5, 12, 8, 10])])
def test_parse_source(text, expected):
    assert rfc3797.parse_source(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "12 a3", "1.5", "-3"])
def test_parse_source_rejects_bad_input(text):
    with pytest.raises(rfc3797.SourceFormatError):
        rfc3797.parse_source(text)
