"""Training end to end: the untrained network is the base model, training lowers the loss, a seed repeats a run,
--resume continues exactly, and the model file and its card are what the run measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from faceapp.core.embedders.trained_net import TRAIN_MODES
from faceapp.train import run, trainer
from faceapp.train.data import FaceSet
from faceapp.train.trainer import Recipe


def synthetic(people: int = 8, per: int = 4, seed: int = 0) -> FaceSet:
    """Chips of noise around a per-person pattern: distinct enough for a small CNN to learn something."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 256, size=(people, 150, 150, 3))
    chips = np.clip(patterns.repeat(per, axis=0) + rng.normal(0, 40, (people * per, 150, 150, 3)), 0, 255)
    labels = np.arange(people).repeat(per)
    files = tuple(f"p{i}/{j}.png" for i in range(people) for j in range(per))
    return FaceSet(chips.astype(np.uint8), labels, files, tuple(f"p{i}" for i in range(people)))


@pytest.fixture(scope="module")
def dlib_base() -> object:
    from faceapp.core.embedders.registry import create_embedder

    return create_embedder("dlib-resnet")


@pytest.mark.parametrize("mode", TRAIN_MODES)
def test_the_untrained_network_embeds_like_the_base_model(mode: str, dlib_base: object) -> None:
    net = trainer.build_network(Recipe(train=mode))
    chips = synthetic(2, 2).chips
    with torch.no_grad():
        ours = net(torch.from_numpy(chips).permute(0, 3, 1, 2).float()).numpy()
    base = dlib_base.descriptors(chips)  # type: ignore[attr-defined]
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    assert np.abs(ours - base).max() < 1e-4
    trained = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trained  # something is trained in every mode
    assert ("base.stem.weight" in trained) == (mode == "all")
    assert ("base.fc.weight" in trained) == (mode != "head")


def _epochs_losses(recipe: Recipe, data: FaceSet, epochs: int) -> list[float]:
    net = trainer.build_network(recipe)
    feats = trainer.features(net, data.chips)
    opt = trainer.make_optimizer(recipe, net, None)
    return [trainer._epoch(recipe, net, None, opt, feats, data.labels, e, None)["loss"] for e in range(epochs)]


@pytest.mark.parametrize("mining", ["semi-hard", "batch-hard", "batch-all", "random"])
def test_training_from_scratch_lowers_the_triplet_loss(mining: str) -> None:
    recipe = Recipe(base="scratch", mining=mining, p=4, k=4, lr=3e-3)
    losses = _epochs_losses(recipe, synthetic(8, 4), 6)
    assert losses[-1] < losses[0]


def test_contrastive_and_binary_losses_train_too() -> None:
    data = synthetic(8, 4)
    for loss in ("contrastive", "binary"):
        recipe = Recipe(base="scratch", loss=loss, p=4, k=4, lr=3e-3)
        net = trainer.build_network(recipe)
        pair = trainer.PairClassifier(trainer.EMBEDDING_DIM) if loss == "binary" else None
        feats = trainer.features(net, data.chips)
        opt = trainer.make_optimizer(recipe, net, pair)
        losses = [trainer._epoch(recipe, net, pair, opt, feats, data.labels, e, None)["loss"] for e in range(6)]
        assert losses[-1] < losses[0], (loss, losses)


def _fit(recipe: Recipe, resume: trainer.Checkpoint | None = None) -> tuple[trainer.Trained, list[trainer.Checkpoint]]:
    saved: list[trainer.Checkpoint] = []
    net = trainer.build_network(recipe)
    result = trainer.fit(recipe, net, synthetic(8, 4, 1), synthetic(4, 4, 2), checkpoint=saved.append, resume=resume)
    return result, saved


def test_the_same_seed_gives_the_same_model_and_resume_continues_exactly(tmp_path: Path) -> None:
    recipe = Recipe(base="scratch", p=4, k=4, epochs=3, patience=5, lr=3e-3)
    first, checkpoints = _fit(recipe)
    again, _ = _fit(recipe)
    for (k, a), b in zip(first.net.state_dict().items(), again.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    meta = {"recipe": trainer.recipe_dict(recipe), "data_digest": "x"}
    run.save_checkpoint(tmp_path / "m", checkpoints[0], meta)  # "interrupted" after the first epoch
    resumed, _ = _fit(recipe, run.load_checkpoint(tmp_path / "m", meta))
    for (k, a), b in zip(first.net.state_dict().items(), resumed.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert [e["loss"] for e in resumed.history.epochs] == [e["loss"] for e in first.history.epochs]
    with pytest.raises(Exception, match="another run"):
        run.load_checkpoint(tmp_path / "m", {**meta, "data_digest": "y"})


@pytest.mark.shared_data
def test_train_on_lfw_devtrain_people_writes_a_model_whose_card_matches(shared_data: Path, tmp_path: Path) -> None:
    lfw = shared_data / "lfw"
    rows = [line.split() for line in (lfw / "peopleDevTrain.txt").read_text().splitlines()[1:]]
    people = tmp_path / "people"
    people.mkdir()
    for name, count in rows:
        if int(count) >= 4 and len(list(people.iterdir())) < 24:
            (people / name).symlink_to((lfw / name).resolve())
    recipe = Recipe(loss="triplet", mining="batch-all", train="head", p=6, k=4, epochs=2, lr=1e-2, patience=5)
    card = run.train(people, "lfw-smoke", recipe, validation=0.25)
    stem = run.trained_dir() / "lfw-smoke"
    written = json.loads(stem.with_suffix(".json").read_text())
    assert written == card
    assert card["weights_sha256"] == run.sha256_of(stem.with_suffix(".safetensors"))
    assert card["data"]["train_people"] + card["data"]["validation_people"] == 24
    assert card["recipe"]["loss"] == "triplet"
    assert card["recipe"]["mining"] == "batch-all"
    assert 0.0 < card["tau"] < 4.0
    assert len(card["history"]) == 2
    before = card["metrics"]["validation"]["before"]
    assert before["accuracy"] > 0.9  # dlib-resnet itself, on held-out LFW people
    from safetensors.torch import load_file

    net = trainer.build_network(recipe)
    net.load_state_dict({k[4:]: v for k, v in load_file(str(stem.with_suffix(".safetensors"))).items()})
    assert not stem.with_name("lfw-smoke.checkpoint.json").exists()  # a finished run leaves no checkpoint
    # The model joins the catalog: the app embeds as training evaluated it, and a gallery can use it.
    from faceapp.core import catalog
    from faceapp.core.embedders.registry import create_embedder

    assert "lfw-smoke" in catalog.names()
    assert catalog.spec("lfw-smoke").default_threshold == card["tau"]
    chips = np.random.default_rng(0).integers(0, 256, (4, 150, 150, 3), dtype=np.uint8)
    expected = trainer.embed(net.eval(), trainer.features(net, chips))
    np.testing.assert_allclose(create_embedder("lfw-smoke").embed_chips(chips), expected, atol=1e-5)


def _objective(net: torch.nn.Module, feats: trainer.Features, labels: np.ndarray, alpha: float) -> float:
    """The triplet loss over every valid triplet of the whole set (inactive ones count as 0)."""
    from faceapp.train.losses import pairwise_sq_distances, triplet_loss
    from faceapp.train.mining import batch_all

    emb = torch.from_numpy(trainer.embed(net, feats))
    d = pairwise_sq_distances(emb)
    a, p, n = batch_all(d, torch.from_numpy(labels))
    return float(triplet_loss(d[a, p], d[a, n], alpha)[0])


@pytest.mark.shared_data
def test_a_few_steps_on_lfw_devtrain_lower_the_training_objective(shared_data: Path) -> None:
    from faceapp.train import data

    lfw = shared_data / "lfw"
    rows = [line.split() for line in (lfw / "peopleDevTrain.txt").read_text().splitlines()[1:]]
    chosen = [name for name, count in rows if int(count) >= 4][:24]
    faces = data.load(lfw, chosen)
    recipe = Recipe(loss="triplet", mining="semi-hard", train="head", p=6, k=4, lr=1e-2)
    net = trainer.build_network(recipe)
    feats = trainer.features(net, faces.chips)
    before = _objective(net, feats, faces.labels, recipe.alpha())
    opt = trainer.make_optimizer(recipe, net, None)
    for epoch in range(3):
        trainer._epoch(recipe, net, None, opt, feats, faces.labels, epoch, None)
    after = _objective(net, feats, faces.labels, recipe.alpha())
    assert after < 0.8 * before, (before, after)


def test_plots_of_a_card(tmp_path: Path) -> None:
    from faceapp.train import evaluate, plots

    rng = np.random.default_rng(0)
    same = np.arange(400) < 200
    f = evaluate.figures(np.where(same, rng.normal(0.1, 0.03, 400), rng.normal(0.3, 0.05, 400)).clip(0), same)
    card = {
        "name": "m",
        "recipe": {"loss": "triplet"},
        "history": [{"epoch": 0, "loss": 0.2}, {"epoch": 1, "loss": 0.1}],
        "validation_by_epoch": [{"accuracy": 0.9}, {"accuracy": 0.95}],
        "metrics": {"validation": {"before": f, "after": f}, "lfw_dev_test": {"before": None, "after": None}},
    }
    written = plots.write(card, tmp_path)
    assert [p.name for p in written] == [
        "train-m-curves.png",
        "train-m-validation-histograms.png",
        "train-m-validation-roc.png",
    ]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert f["accuracy"] > 0.95
    assert f["histogram"]["edges"][-1] < 1.0  # narrowed to where the scores are


def test_a_binary_run_that_beats_nothing_returns_the_base_without_its_untrained_classifier() -> None:
    recipe = Recipe(base="scratch", loss="binary", p=4, k=4, epochs=0)
    result = trainer.fit(recipe, trainer.build_network(recipe), synthetic(8, 4, 1), synthetic(4, 4, 2))
    assert result.history.best_epoch == -1
    assert result.head is None  # the base is judged by distance; a random classifier would be a coin toss
