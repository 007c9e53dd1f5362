"""The engine on a gallery large enough to be indexed: a change known person by person is applied as a layer of
their rows (no reload, no re-index); anything else reloads; a build never holds up a write."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from faceapp import engine as engine_module
from faceapp.core.matching import LayeredSnapshot
from faceapp.core.types import Detection, FaceSample
from faceapp.engine import Engine
from tests.test_engine import face_image, make_engine


def large(tmp_path: Path, index_min_rows: int = 100) -> Engine:
    """A gallery of 300 synthetic samples (75 people), indexed from `index_min_rows` rows on."""
    engine = make_engine(tmp_path)
    engine.index_min_rows = index_min_rows
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    crop = FaceSample(np.full((8, 8, 3), 128, np.uint8), Detection((0, 0, 8, 8), 0.9, np.full((5, 2), 4.0)), "t")
    engine.bulk_add([f"Stranger {i}" for i in range(75)], np.arange(300) // 4, vectors, crop)
    assert engine.snapshot().indexed
    return engine


def reads(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every embeddings_for call's `people` argument (None: the whole gallery)."""
    seen: list[object] = []
    real = engine._repo.embeddings_for

    def spy(model: str, people: object = None, on_batch: object = None) -> object:
        seen.append(people)
        return real(model, people=people, on_batch=on_batch)  # type: ignore[arg-type]

    monkeypatch.setattr(engine._repo, "embeddings_for", spy)
    return seen


def test_an_enrollment_rename_and_removal_update_the_snapshot_without_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = large(tmp_path)
    base = engine.snapshot()
    seen = reads(engine, monkeypatch)

    ada = engine.enroll("Ada", [face_image(1)]).person
    after = engine.snapshot()
    assert isinstance(after, LayeredSnapshot)
    assert after.base is base
    assert seen == [{ada.id}]  # only Ada's rows were read
    assert [r.match.label for r in engine.identify(face_image(1), 0.1)] == ["Ada"]
    assert after.sample_count == 301

    engine.enroll("Ada", [face_image(11)])
    engine.rename("Ada", "Ada Lovelace")
    assert [r.match.label for r in engine.identify(face_image(1), 0.1)] == ["Ada Lovelace"]
    assert engine.snapshot().sample_count == 302
    engine.remove_person("Ada Lovelace")
    assert engine.identify(face_image(1), 0.1)[0].match.label == "Unknown"
    assert engine.snapshot().sample_count == 300
    assert engine.snapshot().base is base  # type: ignore[attr-defined]
    assert None not in seen  # never the whole gallery

    # what a fresh engine reads from the file is what the layers answered
    fresh = make_engine(tmp_path)
    fresh.index_min_rows = 10**9
    assert fresh.snapshot().sample_count == engine.snapshot().sample_count
    assert sorted(fresh.snapshot().names.items()) == sorted(engine.snapshot().names.items())


def test_a_change_not_known_person_by_person_reloads_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = large(tmp_path)
    engine.snapshot()
    seen = reads(engine, monkeypatch)
    engine.invalidate()  # another station's change, a model switch: who changed is not known
    assert not isinstance(engine.snapshot(), LayeredSnapshot)
    assert seen == [None]


def test_a_layer_past_its_limit_is_folded_into_a_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = large(tmp_path)
    engine.snapshot()
    monkeypatch.setattr(engine_module, "LAYER_MAX_ROWS", 1)
    engine.enroll("Ada", [face_image(1)])
    engine.snapshot()
    engine.enroll("Bob", [face_image(2)])  # the layer would hold 2 rows
    snapshot = engine.snapshot()
    assert not isinstance(snapshot, LayeredSnapshot)
    assert snapshot.indexed
    assert {"Ada", "Bob"} <= set(snapshot.names.values())


def test_a_small_gallery_reloads_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    assert not engine.snapshot().indexed
    seen = reads(engine, monkeypatch)
    engine.enroll("Bob", [face_image(2)])
    assert not isinstance(engine.snapshot(), LayeredSnapshot)
    assert seen == [None]


def test_a_write_does_not_wait_for_a_snapshot_being_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    release, entered = threading.Event(), threading.Event()
    real = engine._repo.embeddings_for
    calls: list[float] = []

    def slow(model: str, people: object = None, on_batch: object = None) -> object:
        calls.append(time.monotonic())
        if len(calls) == 1:
            entered.set()
            assert release.wait(10)
        return real(model, people=people, on_batch=on_batch)  # type: ignore[arg-type]

    monkeypatch.setattr(engine._repo, "embeddings_for", slow)
    got: list[object] = []
    builder = threading.Thread(target=lambda: got.append(engine.snapshot()))
    builder.start()
    assert entered.wait(5)
    started = time.monotonic()
    engine.enroll("Bob", [face_image(2)])  # takes the cache lock to invalidate: must not wait for the build
    assert time.monotonic() - started < 2.0
    release.set()
    builder.join(10)
    assert got  # the build that began before Bob finished
    assert "Bob" in engine.snapshot().names.values()
    assert len(calls) == 2  # it was not kept as current: a change came during it, so this one was built anew


def test_a_person_changed_during_a_layered_build_is_in_the_next_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = large(tmp_path)
    base = engine.snapshot()
    release, entered = threading.Event(), threading.Event()
    real = engine._repo.embeddings_for

    def slow(model: str, people: object = None) -> object:
        if not entered.is_set():
            entered.set()
            assert release.wait(10)
        return real(model, people=people)  # type: ignore[arg-type]

    ada = engine.enroll("Ada", [face_image(1)]).person
    monkeypatch.setattr(engine._repo, "embeddings_for", slow)
    got: list[object] = []
    builder = threading.Thread(target=lambda: got.append(engine.snapshot()))
    builder.start()
    assert entered.wait(5)
    bob = engine.enroll("Bob", [face_image(2)]).person  # lands while Ada's layer is being built
    release.set()
    builder.join(10)
    assert got
    after = engine.snapshot()
    assert isinstance(after, LayeredSnapshot)
    assert after.base is base  # still layered, not reloaded
    assert {ada.id, bob.id} <= after.hidden
    labels = [engine.identify(face_image(i), 0.1)[0].match.label for i in (1, 2)]
    assert labels == ["Ada", "Bob"]


@pytest.mark.parametrize("scoring", ["average", "nearest"])
def test_a_full_load_takes_the_graph_built_while_it_read(
    scoring: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from faceapp.core import catalog
    from faceapp.core.gallery_index import GalleryIndex
    from faceapp.storage import repository as repository_module

    spec = catalog.spec
    monkeypatch.setattr(catalog, "spec", lambda name: dataclasses.replace(spec(name), scoring=scoring))
    engine = large(tmp_path, index_min_rows=50)  # 75 means under "average", 300 samples under "nearest"
    assert engine.snapshot().scoring == scoring
    exact = make_engine(tmp_path)
    exact.index_min_rows = 10**9  # every row scanned, nothing fed
    faces = exact.snapshot().embeddings[::7]
    monkeypatch.setattr(repository_module, "LOAD_BATCH", 37)  # 300 samples in 9 batches, people split across them

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the graph was built after the read")

    monkeypatch.setattr(GalleryIndex, "build", no_build)
    engine.invalidate()
    fresh = engine.snapshot()
    assert fresh.indexed
    got = [m for face in faces for m in fresh.identify(face, 0.5)]
    want = [m for face in faces for m in exact.snapshot().identify(face, 0.5)]
    assert len(got) == len(want) == len(faces)
    assert [m.person_id for m in got] == [m.person_id for m in want]
    np.testing.assert_allclose([m.distance for m in got], [m.distance for m in want], atol=1e-5)
