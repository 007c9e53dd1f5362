"""`faceapp train --from-gallery`: adapt the similarity to the enrolled people's own samples.

The aim is to tell this gallery's people apart (lookalikes the base model puts within tau of each other) without
accepting more strangers. The samples are split by sample, not by person, three ways: from each person with at
least MIN_HELD samples, VALIDATION samples are held out to choose the epoch and calibrate tau (for the base and the
trained model alike), and PROBES more are held out for the report only; the rest, and everyone else with 2 or more
samples, trains. The report identifies each probe against the training samples at each model's calibrated tau
(right name / wrong name / Unknown), and counts strangers (faces of people not in the gallery, `--strangers DIR`)
accepted as someone. The trained model helps only when it names no probe fewer rightly, none more wrongly, accepts
no more strangers, and is better on one of the three; otherwise the tool says so, writes nothing, and the
gallery keeps its model. Probes are single samples of a handful of people: the report is evidence about this
gallery, not a benchmark.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from faceapp.core.align import dlib_chip
from faceapp.engine import Engine
from faceapp.errors import BadInputError
from faceapp.train import data, trainer

VALIDATION, PROBES = 2, 1  # samples held out per person that has at least MIN_HELD
MIN_HELD = VALIDATION + PROBES + 2  # and 2 still train


@dataclass(frozen=True)
class GallerySplit:
    """The gallery's chips: what trains, the validation samples (epoch and tau), and the report's probes."""

    train: data.FaceSet
    validation: data.FaceSet
    probes: data.FaceSet


def split_gallery(engine: Engine, seed: int = 0) -> GallerySplit:
    """dlib chips of every person with 2 or more samples; VALIDATION and PROBES of each held out where they have
    MIN_HELD or more."""
    rng = np.random.default_rng(seed)
    parts: tuple[list[Row], list[Row], list[Row]] = ([], [], [])
    for person in engine.people():
        stored = engine.samples_of(person.id)
        if len(stored) < 2:
            continue
        held = len(stored) >= MIN_HELD
        for rank, i in enumerate(rng.permutation(len(stored))):
            s = stored[int(i)]
            row = (dlib_chip(s.sample.image, s.sample.detection), person.name, f"{person.name}/sample-{s.id}")
            which = 0 if not held or rank >= VALIDATION + PROBES else (1 if rank < VALIDATION else 2)
            parts[which].append(row)
    held_people = sorted({name for _, name, _ in parts[1]})
    if len(held_people) < 2:
        raise BadInputError(
            f"--from-gallery needs at least 2 people with {MIN_HELD} or more samples (to hold {VALIDATION + PROBES} "
            f"of each out); this gallery has {len(held_people)}. Add samples, then train again."
        )
    return GallerySplit(_face_set(parts[0]), _face_set(parts[1], held_people), _face_set(parts[2], held_people))


Row = tuple[np.ndarray, str, str]  # chip, person, which sample


def _face_set(rows: list[tuple[np.ndarray, str, str]], people: list[str] | None = None) -> data.FaceSet:
    names = people or sorted({name for _, name, _ in rows})
    index = {n: i for i, n in enumerate(names)}
    return data.FaceSet(
        np.stack([chip for chip, _, _ in rows]),
        np.array([index[name] for _, name, _ in rows], dtype=np.int64),
        tuple(f for _, _, f in rows),
        tuple(names),
    )


def identification(
    gallery: np.ndarray, gallery_people: list[str], probes: np.ndarray, probe_people: list[str], tau: float
) -> dict[str, int]:
    """Each probe's nearest training sample: right name, wrong name (within tau) or Unknown."""
    d = ((probes[:, None, :] - gallery[None, :, :]) ** 2).sum(-1)
    nearest = d.argmin(1)
    right = wrong = unknown = 0
    for row, col in enumerate(nearest):
        if d[row, col] > tau:
            unknown += 1
        elif gallery_people[col] == probe_people[row]:
            right += 1
        else:
            wrong += 1
    return {"right": right, "wrong": wrong, "unknown": unknown}


def strangers_accepted(gallery: np.ndarray, strangers: np.ndarray, tau: float) -> int:
    """How many stranger faces come within tau of some enrolled sample (each would be given a name)."""
    if len(strangers) == 0:
        return 0
    d = ((strangers[:, None, :] - gallery[None, :, :]) ** 2).sum(-1)
    return int((d.min(1) <= tau).sum())


def report(net: nn.Module, split: GallerySplit, strangers: np.ndarray | None, tau: float) -> dict[str, Any]:
    """The held-out probes' identification and the strangers accepted, with `net`'s embeddings at `tau`."""
    gallery = trainer.embed(net, trainer.features(net, split.train.chips))
    probes = trainer.embed(net, trainer.features(net, split.probes.chips))
    g_people = [split.train.people[int(i)] for i in split.train.labels]
    p_people = [split.probes.people[int(i)] for i in split.probes.labels]
    out: dict[str, Any] = {"tau": tau, "probes": len(p_people)}
    out |= identification(gallery, g_people, probes, p_people, tau)
    if strangers is not None and len(strangers):
        out["strangers"] = len(strangers)
        out["strangers_accepted"] = strangers_accepted(
            gallery, trainer.embed(net, trainer.features(net, strangers)), tau
        )
    return out


def helps(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """No fewer right names, no more wrong ones, no more strangers accepted, and better on one of the three."""
    strangers = before.get("strangers_accepted", 0), after.get("strangers_accepted", 0)
    if after["right"] < before["right"] or after["wrong"] > before["wrong"] or strangers[1] > strangers[0]:
        return False
    return after["right"] > before["right"] or after["wrong"] < before["wrong"] or strangers[1] < strangers[0]


def decide(card: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether to keep the trained model: an epoch beat the base on validation, and the report says it helps."""
    return bool(card["improved"]) and helps(before, after)


def stranger_chips(root: Path | None, gallery_people: set[str], limit: int, seed: int) -> np.ndarray | None:
    """Up to `limit` aligned faces of people in the folder `root` (LFW's layout) who are not in the gallery."""
    if root is None:
        return None
    people = data.scan(root)
    files = [f for name, fs in people.items() if _folded(name) not in gallery_people for f in fs]
    if not files:
        raise BadInputError(f"{root}: every person there is enrolled; strangers must be people not in the gallery.")
    rng = np.random.default_rng(seed)
    chosen = sorted(files[int(i)] for i in rng.choice(len(files), min(limit, len(files)), replace=False))
    return data.cached_chips(root, chosen)


def _folded(name: str) -> str:
    """A name compared across the gallery and a folder of people: case and '_' versus ' ' ignored."""
    return " ".join(name.replace("_", " ").split()).casefold()


def digest(split: GallerySplit) -> str:
    """SHA-256 of the samples used (their ids), for the model card."""
    return hashlib.sha256(
        (split.train.digest() + split.validation.digest() + split.probes.digest()).encode()
    ).hexdigest()


def train_from_gallery(
    engine: Engine,
    name: str,
    recipe: trainer.Recipe,
    strangers: Path | None = None,
    stranger_limit: int = 500,
    switch: bool = False,
    progress: trainer.Progress | None = None,
) -> dict[str, Any]:
    """Train on the gallery's own samples and report base vs trained on held-out probes and strangers. When it
    helps, write the model (and switch the gallery to it with `switch`); otherwise write nothing. Returns the card
    (with its "gallery" report; "written" says whether the files exist)."""
    from dataclasses import replace

    from faceapp.train import run

    if recipe.base not in trainable_bases():
        raise BadInputError("--from-gallery adapts a pre-trained base: a gallery is too small to learn from scratch.")
    if recipe.loss == "binary":
        raise BadInputError("--from-gallery trains a distance (triplet or contrastive loss): its verdict is d <= tau.")
    if switch and strangers is None:
        raise BadInputError("--switch needs --strangers: it switches only to a model that accepts no more strangers.")
    if switch and engine.model != recipe.base:
        raise BadInputError(
            f"--switch compares the trained model with its base {recipe.base}, but this gallery uses {engine.model}: "
            "train without --switch, and choose the model in Settings if the report convinces you."
        )
    stem = run.trained_dir() / run.check_name(name)
    split = split_gallery(engine, recipe.seed)
    if progress is not None:
        n = (len(split.train.labels), len(split.validation.labels), len(split.probes.labels))
        progress(f"gallery: {len(split.train.people)} people; {n[0]} samples train, {n[1]} validate, {n[2]} probe")
    recipe = replace(recipe, p=max(2, min(recipe.p, len(split.train.people))))
    enrolled = {_folded(person.name) for person in engine.people()}
    others = stranger_chips(strangers, enrolled, stranger_limit, recipe.seed)
    net = trainer.build_network(recipe)
    result = trainer.fit(recipe, net, split.train, split.validation, progress)
    data_part = {
        "from_gallery": str(engine.gallery_path),
        "train_people": len(split.train.people),
        "train_images": len(split.train.labels),
        "validation_people": len(split.validation.people),
        "validation_images": len(split.validation.labels),
        "probe_images": len(split.probes.labels),
        "files_sha256": digest(split),
        "lfw_dev_test_pairs": 0,
    }
    card = run.build_card(name, recipe, data_part, result, (None, None))
    # Both taus are calibrated the same way, on the validation samples (never on the probes).
    before = report(trainer.build_network(recipe), split, others, float(result.history.before["tau"]))
    after = report(result.net, split, others, float(card["tau"]))
    better = decide(card, before, after)
    card["gallery"] = {"base": before, "trained": after, "helps": better, "switched": False, "written": better}
    if not better:
        return card
    card = run.write_model(stem, result, card)
    if switch:
        engine.switch_model(name)
        card["gallery"]["switched"] = True
        run.write_card(stem, card)
    return card


def trainable_bases() -> set[str]:
    """The bases --from-gallery can adapt: the trainable built-in models."""
    from faceapp.core.catalog import BUILTIN, TRAINABLE_FAMILIES

    return {b for b in TRAINABLE_FAMILIES if b in BUILTIN}


def report_text(card: dict[str, Any], gallery_model: str) -> str:
    """What --from-gallery tells the user: before/after on held-out samples and strangers, and the decision."""
    g = card["gallery"]

    def row(label: str, r: dict[str, Any]) -> str:
        line = f"{label:22} tau {r['tau']:.3f}: {r['right']} right, {r['wrong']} wrong, {r['unknown']} Unknown"
        if "strangers" in r:
            line += f"; strangers accepted {r['strangers_accepted']} of {r['strangers']}"
        return line

    lines = [
        f"held-out samples ({g['base']['probes']}) identified against the training samples:",
        row(f"base ({card['base']})", g["base"]),
        row(f"trained ({card['name']})", g["trained"]),
    ]
    if not g["written"]:
        lines.append(f"It does not help on these samples: nothing was written, and the gallery keeps {gallery_model}.")
    elif g["switched"]:
        lines.append(f"It helps: the gallery now uses {card['name']} (its samples were re-embedded).")
    elif g["helps"]:
        lines.append(
            f"It helps: switch with `faceapp --model {card['name']} people list` (the gallery uses {gallery_model})."
        )
    return "\n".join(lines)
