"""`faceapp train --from-gallery`: adapt the similarity to the enrolled people's own samples.

The aim is to tell this gallery's people apart (lookalikes the base model puts within tau of each other) without
accepting more strangers. The samples are split by sample, not by person: from each person with at least
HELD_OUT + 2 samples, HELD_OUT are held out (validation pairs for training, and probes for the report); everyone
with 2 or more samples trains. The report compares the base and the trained model on the held-out probes,
identified against the training samples at each model's own tau (right name / wrong name / Unknown), and on
strangers (faces of people not in the gallery, from `--strangers DIR`) accepted as someone. The trained model helps
only when it names no more probes wrongly, accepts no more strangers, and names more probes right or fewer wrongly;
otherwise the tool says so and the gallery keeps its model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from faceapp.core.align import dlib_chip
from faceapp.core.catalog import spec as model_spec
from faceapp.engine import Engine
from faceapp.errors import BadInputError
from faceapp.train import data, trainer

HELD_OUT = 2  # samples held out per person that has at least HELD_OUT + 2


@dataclass(frozen=True)
class GallerySplit:
    """The gallery's chips: what trains, and the held-out probes (with genuine pairs among them)."""

    train: data.FaceSet
    held_out: data.FaceSet


def split_gallery(engine: Engine, seed: int = 0) -> GallerySplit:
    """dlib chips of every person with 2 or more samples, HELD_OUT of each held out where they have enough."""
    rng = np.random.default_rng(seed)
    train: list[tuple[np.ndarray, str, str]] = []
    held: list[tuple[np.ndarray, str, str]] = []
    for person in engine.people():
        stored = engine.samples_of(person.id)
        if len(stored) < 2:
            continue
        order = rng.permutation(len(stored))
        keep = HELD_OUT if len(stored) >= HELD_OUT + 2 else 0
        for rank, i in enumerate(order):
            s = stored[int(i)]
            row = (dlib_chip(s.sample.image, s.sample.detection), person.name, f"{person.name}/sample-{s.id}")
            (held if rank < keep else train).append(row)
    held_people = sorted({name for _, name, _ in held})
    if len(held_people) < 2:
        raise BadInputError(
            f"--from-gallery needs at least 2 people with {HELD_OUT + 2} or more samples (to hold {HELD_OUT} of each "
            f"out for validation); this gallery has {len(held_people)}. Add samples, then train again."
        )
    return GallerySplit(_face_set(train), _face_set(held, held_people))


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
    probes = trainer.embed(net, trainer.features(net, split.held_out.chips))
    g_people = [split.train.people[int(i)] for i in split.train.labels]
    p_people = [split.held_out.people[int(i)] for i in split.held_out.labels]
    out: dict[str, Any] = {"tau": tau, "probes": len(p_people)}
    out |= identification(gallery, g_people, probes, p_people, tau)
    if strangers is not None and len(strangers):
        out["strangers"] = len(strangers)
        out["strangers_accepted"] = strangers_accepted(
            gallery, trainer.embed(net, trainer.features(net, strangers)), tau
        )
    return out


def helps(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """No more wrong names, no more strangers accepted, and more right names or fewer wrong ones."""
    if after["wrong"] > before["wrong"]:
        return False
    if after.get("strangers_accepted", 0) > before.get("strangers_accepted", 0):
        return False
    return after["right"] > before["right"] or after["wrong"] < before["wrong"]


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
    return hashlib.sha256((split.train.digest() + split.held_out.digest()).encode()).hexdigest()


def base_tau(recipe: trainer.Recipe) -> float:
    """The base model's default tau (the gallery's verdict before training)."""
    return model_spec(recipe.base).default_threshold


def train_from_gallery(
    engine: Engine,
    name: str,
    recipe: trainer.Recipe,
    strangers: Path | None = None,
    stranger_limit: int = 500,
    switch: bool = False,
    progress: trainer.Progress | None = None,
) -> dict[str, Any]:
    """Train on the gallery's own samples, report before/after on held-out samples and strangers, write the model,
    and switch the gallery to it when `switch` and it helps. Returns the card (with its "gallery" report)."""
    from faceapp.train import run

    if recipe.base == "scratch":
        raise BadInputError(
            "--from-gallery adapts a pre-trained base: a gallery is far too small to learn from scratch."
        )
    stem = run.trained_dir() / run.check_name(name)
    split = split_gallery(engine, recipe.seed)
    if progress is not None:
        n_train, n_held = len(split.train.labels), len(split.held_out.labels)
        progress(f"gallery: {len(split.train.people)} people, {n_train} samples to train, {n_held} held out")
    p = min(recipe.p, len(split.train.people))
    if p < 2:
        raise BadInputError("--from-gallery needs at least 2 people with 2 or more samples.")
    from dataclasses import replace

    recipe = replace(recipe, p=p)
    folk = {_folded(person) for person in split.train.people}
    others = stranger_chips(strangers, folk, stranger_limit, recipe.seed)
    net = trainer.build_network(recipe)
    tau_before = base_tau(recipe)
    before = report(net, split, others, tau_before)
    result = trainer.fit(recipe, net, split.train, split.held_out, progress)
    data_part = {
        "from_gallery": str(engine.gallery_path),
        "train_people": len(split.train.people),
        "train_images": len(split.train.labels),
        "validation_people": len(split.held_out.people),
        "validation_images": len(split.held_out.labels),
        "files_sha256": digest(split),
        "lfw_dev_test_pairs": 0,
    }
    card = run.build_card(name, recipe, data_part, result, (None, None))
    after = report(result.net, split, others, float(card["tau"]))
    better = card["threshold_kind"] == "distance" and helps(before, after)
    card["gallery"] = {"base": before, "trained": after, "helps": better, "switched": False}
    card = run.write_model(stem, result, card)
    if better and switch:
        engine.switch_model(name)
        card["gallery"]["switched"] = True
        stem.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return card


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
    if g["switched"]:
        lines.append(f"It helps: the gallery now uses {card['name']} (its samples were re-embedded).")
    elif g["helps"]:
        lines.append(
            f"It helps: switch with `faceapp --model {card['name']} people list` (the gallery uses {gallery_model})."
        )
    else:
        lines.append(f"It does not help on these samples: the gallery keeps {gallery_model}.")
    return "\n".join(lines)
