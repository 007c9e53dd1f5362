"""`faceapp train --from-gallery`: the split by sample, the report, the decision, and switching the gallery."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceapp import cli
from faceapp.core import catalog
from faceapp.core.types import FaceSample
from faceapp.engine import Engine
from faceapp.errors import BadInputError
from faceapp.storage.repository import GalleryRepository
from faceapp.train import data
from faceapp.train import gallery as from_gallery
from faceapp.train.trainer import Recipe
from tests.fakes import detection, dlib_like


def sample(seed: int) -> FaceSample:
    """A 200x200 textured crop with a face box and landmarks (what the gallery stores for a face)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (25, 25, 3), dtype=np.uint8)
    image = np.kron(base, np.ones((8, 8, 1), np.uint8))
    return FaceSample(np.ascontiguousarray(image), detection(50, 40, 150, 160), f"s{seed}")


def gallery(path: Path, counts: dict[str, int], real: bool = False) -> Engine:
    """A dlib-resnet gallery with `counts` samples per person (the fake dlib model unless `real`)."""
    kwargs = {} if real else {"embedder_factory": lambda name: dlib_like()}
    engine = Engine(GalleryRepository(path), "dlib-resnet", **kwargs)  # type: ignore[arg-type]
    seed = 0
    for name, n in counts.items():
        engine.enroll_samples(name, [sample(seed + i) for i in range(n)])
        seed += 100
    return engine


def test_the_split_holds_out_validation_and_probe_samples_of_people_with_five_or_more(tmp_path: Path) -> None:
    engine = gallery(tmp_path / "g.sqlite3", {"Ann": 6, "Bob": 5, "Cy": 3, "Dee": 1})
    split = from_gallery.split_gallery(engine)
    assert split.train.people == ("Ann", "Bob", "Cy")  # Dee has one sample: nothing to learn from
    assert split.validation.people == split.probes.people == ("Ann", "Bob")

    def who(part: data.FaceSet) -> list[str]:
        return sorted(part.people[i] for i in part.labels)

    assert who(split.validation) == ["Ann", "Ann", "Bob", "Bob"]
    assert who(split.probes) == ["Ann", "Bob"]
    assert who(split.train) == ["Ann", "Ann", "Ann", "Bob", "Bob", "Cy", "Cy", "Cy"]
    files = [set(p.files) for p in (split.train, split.validation, split.probes)]
    assert not (files[0] & files[1])
    assert not (files[0] & files[2])
    assert not (files[1] & files[2])
    assert split.train.chips.shape[1:] == (150, 150, 3)


def test_a_gallery_without_two_people_to_hold_out_is_refused_in_one_line(tmp_path: Path) -> None:
    engine = gallery(tmp_path / "g.sqlite3", {"Ann": 6, "Bob": 4})
    with pytest.raises(BadInputError, match="at least 2 people with 5 or more samples"):
        from_gallery.split_gallery(engine)


def test_identification_counts_right_wrong_and_unknown() -> None:
    g = np.array([[1.0, 0.0], [0.0, 1.0]])
    probes = np.array([[1.0, 0.0], [0.1, 0.99], [-1.0, 0.0]])
    got = from_gallery.identification(g, ["A", "B"], probes, ["A", "A", "B"], tau=0.5)
    assert got == {"right": 1, "wrong": 1, "unknown": 1}
    assert from_gallery.strangers_accepted(g, probes, 0.5) == 2


def test_it_helps_only_with_no_fewer_right_no_more_wrong_and_no_more_strangers() -> None:
    base = {"right": 5, "wrong": 2, "unknown": 1, "strangers_accepted": 3}
    assert from_gallery.helps(base, base | {"right": 6, "unknown": 0})
    assert from_gallery.helps(base, base | {"wrong": 1, "unknown": 2})
    assert from_gallery.helps(base, base | {"strangers_accepted": 1})  # the same people named, fewer strangers
    assert not from_gallery.helps(base, base)  # no change is no help
    assert not from_gallery.helps(base, base | {"right": 7, "wrong": 3})
    assert not from_gallery.helps(base, base | {"right": 7, "strangers_accepted": 4})
    assert not from_gallery.helps(base, {"right": 0, "wrong": 1, "unknown": 7, "strangers_accepted": 0})  # mute


def strangers_folder(root: Path) -> Path:
    """Two people who are not enrolled, one image each (no real face: the data pipeline's fallback box)."""
    for i, name in enumerate(("Zed_One", "Zed_Two")):
        (root / name).mkdir(parents=True)
        cv2.imwrite(str(root / name / f"{name}_0001.jpg"), sample(900 + i).image)
    return root


@pytest.mark.parametrize("keep", [True, False])
def test_from_gallery_writes_and_switches_only_a_model_that_helps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    engine = gallery(tmp_path / "g.sqlite3", {"Ann": 5, "Bob": 5, "Cy": 5}, real=True)
    monkeypatch.setattr(from_gallery, "decide", lambda card, before, after: keep)
    recipe = Recipe(loss="contrastive", train="head", p=3, k=2, epochs=1, max_steps=2, lr=1e-2)
    others = strangers_folder(tmp_path / "strangers")
    card = from_gallery.train_from_gallery(engine, "my-gallery", recipe, others, switch=True)
    report = card["gallery"]
    for side in ("base", "trained"):
        assert report[side]["right"] + report[side]["wrong"] + report[side]["unknown"] == report[side]["probes"] == 3
        assert report[side]["strangers"] == 2
    assert report["written"] is report["switched"] is keep
    assert ("my-gallery" in catalog.names()) is keep
    if keep:  # written and switched: every stored sample re-embedded with the trained model
        written = json.loads((catalog.trained_dir() / "my-gallery.json").read_text())
        assert written["gallery"]["switched"] is True
        assert written["data"]["train_images"] == 6
        assert engine.model == "my-gallery"
        assert engine.embedding_models()["my-gallery"] == 15
        assert engine.snapshot().model == "my-gallery"
    else:
        assert not catalog.trained_dir().exists() or not list(catalog.trained_dir().iterdir())
        assert engine.model == "dlib-resnet"
        assert "my-gallery" not in engine.embedding_models()
    text = from_gallery.report_text(card, "dlib-resnet")
    assert ("now uses my-gallery" in text) is keep
    assert ("does not help" in text) is not keep


def test_from_gallery_refuses_what_it_cannot_judge(tmp_path: Path) -> None:
    engine = gallery(tmp_path / "g.sqlite3", {"Ann": 5, "Bob": 5})
    others = strangers_folder(tmp_path / "strangers")
    with pytest.raises(BadInputError, match="triplet or contrastive"):
        from_gallery.train_from_gallery(engine, "m", Recipe(loss="binary"), others)
    with pytest.raises(BadInputError, match="--switch needs --strangers"):
        from_gallery.train_from_gallery(engine, "m", Recipe(), switch=True)
    with pytest.raises(BadInputError, match="from scratch"):
        from_gallery.train_from_gallery(engine, "m", Recipe(base="scratch"), others)
    with pytest.raises(BadInputError, match="letters, digits"):
        from_gallery.train_from_gallery(engine, "team.v2", Recipe(), others)
    fused = Engine(GalleryRepository(tmp_path / "f.sqlite3"), "dlib+sface", embedder_factory=lambda name: dlib_like())
    with pytest.raises(BadInputError, match="this gallery uses dlib\\+sface"):
        from_gallery.train_from_gallery(fused, "m", Recipe(), others, switch=True)


def test_a_trained_models_name_is_never_reused(tmp_path: Path) -> None:
    from faceapp.train.run import check_name

    catalog.trained_dir().mkdir(parents=True)
    (catalog.trained_dir() / "taken.json").write_text("{}")
    with pytest.raises(BadInputError, match="galleries may hold its embeddings"):
        check_name("taken")
    with pytest.raises(BadInputError, match="letters, digits"):
        check_name("same.net")
    assert check_name("fresh-name_2") == "fresh-name_2"


def test_the_cli_refuses_data_with_from_gallery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["train", str(tmp_path), "--from-gallery", "--out", "x", "--db", str(tmp_path / "g.sqlite3")])
    assert code != 0
    assert "takes no DATA" in capsys.readouterr().err


def test_the_cli_takes_train_options_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gallery(tmp_path / "g.sqlite3", {"Ann": 6, "Bob": 4}).close()
    code = cli.main(["train", "--from-gallery", "--db", str(tmp_path / "g.sqlite3"), "--out", "x"])
    assert code == 2
    assert "at least 2 people with 5 or more samples" in capsys.readouterr().err  # parsed, and the gallery read
