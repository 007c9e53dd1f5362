"""`faceapp train` calibrates a trained model's 1:K margin as the app's defaults were: best DIR at FAR 1%."""

from __future__ import annotations

import numpy as np

from faceapp.train.evaluate import calibrate_margin, open_set_split

DIM = 64


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _near(rng: np.random.Generator, centre: np.ndarray, spread: float) -> np.ndarray:
    return _unit(centre + spread * rng.normal(size=centre.shape) / np.sqrt(centre.size))


def test_a_margin_is_chosen_when_strangers_sit_between_two_enrolled_people() -> None:
    """Genuine probes are spread out (some as far as the strangers), and each stranger is as near two enrolled
    people at once: distance alone cannot keep them out without losing genuine probes, the ratio test can."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(400), 4)
    known, strangers = open_set_split(labels, seed=1)
    centres = {int(p): _unit(rng.normal(size=DIM)) for p in known}
    rows: dict[int, list[np.ndarray]] = {}
    for p in known:
        c = centres[int(p)]
        rows[int(p)] = [_near(rng, c, 0.02)] + [_near(rng, c, s) for s in rng.uniform(0.3, 1.3, 3)]
    pairs = rng.choice(known, size=(len(strangers), 2), replace=True)
    for s, (a, b) in zip(strangers, pairs, strict=True):
        mid = _unit(centres[int(a)] + centres[int(b)])
        rows[int(s)] = [_near(rng, mid, 0.05) for _ in range(4)]
    embeddings = np.stack([rows[int(p)][i % 4] for i, p in enumerate(labels)])
    found = calibrate_margin(embeddings, labels, seed=1, base=0.0)
    assert found is not None
    assert found["stranger_probes"] == 4 * len(strangers)
    assert found["margin"] > 0  # it gains more than a point over the base's (none)
    assert found["dir_at_far_1pct"][f"{found['margin']:.2f}"] > found["dir_at_far_1pct"]["0.00"] + 0.05


def test_no_margin_when_strangers_are_simply_far_and_none_when_too_few_strangers() -> None:
    rng = np.random.default_rng(2)
    centres = _unit(rng.normal(size=(300, DIM)))
    embeddings = np.concatenate([np.stack([_near(rng, c, 0.3) for _ in range(3)]) for c in centres])
    labels = np.repeat(np.arange(300), 3)
    found = calibrate_margin(embeddings, labels)
    assert found is not None
    assert found["margin"] == 0.0
    kept = calibrate_margin(embeddings, labels, base=0.35)
    assert kept is not None
    assert kept["margin"] == 0.35  # no margin gains a point over the base's: the base's stays
    assert kept["best_in_sweep"] == 0.0
    assert calibrate_margin(embeddings[:60], labels[:60]) is None  # 10 strangers x 3 images: FAR 1% is out of reach
