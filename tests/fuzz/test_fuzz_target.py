"""The atheris target stays runnable: its seeds pass through it (the fuzzing itself is a separate command)."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz import fuzz_loader


def test_the_fuzz_target_accepts_every_seed(tmp_path: Path) -> None:
    corpus = fuzz_loader.seed_corpus(tmp_path / "corpus")
    seeds = sorted(corpus.iterdir())
    assert len(seeds) > 20
    for seed in seeds:
        fuzz_loader.one_input(seed.read_bytes())
