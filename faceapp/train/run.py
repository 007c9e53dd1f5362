"""`faceapp train DATA --out NAME`: data, split, training, evaluation before and after, the model file and its card.

Files (in paths.models_dir()/trained): NAME.safetensors (the network's tensors, and the pair classifier's for the
binary loss; no pickle), NAME.json (the card: base, what was trained, recipe, data summary, metrics before and
after, calibrated tau, the weights' SHA-256), and while training NAME.checkpoint.safetensors / .json for --resume.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from faceapp.core import catalog
from faceapp.core.weights import sha256_of
from faceapp.errors import BadInputError
from faceapp.train import data, evaluate, trainer
from faceapp.train.trainer import Checkpoint, History, Recipe

CARD_FORMAT = 1


def trained_dir() -> Path:
    """Where trained models and their cards live (the catalog reads them from there)."""
    return catalog.trained_dir()


def check_name(name: str, resume: bool = False) -> str:
    """A new trained model's name: letters, digits, '-' and '_' (its files' stem), not a built-in model's, and not
    a trained model's that exists (a gallery may hold embeddings of that network: a new one under the same name
    would be mixed with them). `resume` continues a run that has not written its model yet."""
    if not catalog.valid_trained_name(name):
        raise BadInputError(f"{name!r}: a trained model's name takes letters, digits, '-' and '_' (64 at most).")
    if name in catalog.BUILTIN:
        raise BadInputError(f"{name!r} is a built-in model's name: choose another for the trained model.")
    card = trained_dir() / f"{name}.json"
    if card.exists():
        what = "its run has finished" if resume else "galleries may hold its embeddings"
        raise BadInputError(
            f"A trained model named {name!r} exists ({card}); {what}: choose another name, or delete its files first."
        )
    return name


def _tensors(prefix: str, state: dict[str, Any] | None) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.contiguous() for k, v in (state or {}).items()}


def _untensors(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def save_checkpoint(stem: Path, ckpt: Checkpoint, meta: dict[str, Any]) -> None:
    """NAME.checkpoint.safetensors (network, head, best weights, optimiser tensors) and .json (the rest)."""
    from safetensors.torch import save_file

    opt = ckpt.optimizer
    tensors = {
        **_tensors("net", ckpt.net),
        **_tensors("head", ckpt.head),
        **_tensors("best_net", ckpt.best_net),
        **_tensors("best_head", ckpt.best_head),
    }
    opt_meta: dict[str, Any] = {"param_groups": opt["param_groups"], "state": {}}
    for pid, state in opt["state"].items():
        opt_meta["state"][str(pid)] = []
        for key, value in state.items():
            tensors[f"opt.{pid}.{key}"] = torch.as_tensor(value).contiguous()
            opt_meta["state"][str(pid)].append(key)
    tmp = stem.with_name(stem.name + ".checkpoint.tmp")
    save_file(tensors, str(tmp))
    tmp.replace(stem.with_name(stem.name + ".checkpoint.safetensors"))
    doc = {**meta, "epoch": ckpt.epoch, "history": ckpt.history.__dict__, "optimizer": opt_meta}
    stem.with_name(stem.name + ".checkpoint.json").write_text(json.dumps(doc, indent=1))


def load_checkpoint(stem: Path, meta: dict[str, Any]) -> Checkpoint:
    """The checkpoint of a run with the same recipe and data; BadInputError when there is none or it differs."""
    from safetensors.torch import load_file

    info_path = stem.with_name(stem.name + ".checkpoint.json")
    if not info_path.is_file():
        raise BadInputError(f"No checkpoint to resume at {info_path}.")
    doc = json.loads(info_path.read_text())
    for key in ("recipe", "data_digest"):
        if doc.get(key) != meta[key]:
            raise BadInputError(f"The checkpoint at {info_path} is of another run ({key} differs); start afresh.")
    tensors = load_file(str(stem.with_name(stem.name + ".checkpoint.safetensors")))
    opt_state = {
        int(pid): {key: tensors[f"opt.{pid}.{key}"] for key in keys} for pid, keys in doc["optimizer"]["state"].items()
    }
    head = _untensors("head", tensors) or None
    return Checkpoint(
        doc["epoch"],
        _untensors("net", tensors),
        head,
        {"state": opt_state, "param_groups": doc["optimizer"]["param_groups"]},
        History(**doc["history"]),
        _untensors("best_net", tensors),
        _untensors("best_head", tensors) or None,
    )


@dataclass(frozen=True)
class Inputs:
    """The people split and, when the data is LFW, its development test pairs."""

    train: data.FaceSet
    validation: data.FaceSet
    dev_test: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # chips (M, 150, 150, 3), pair index (P, 2), same


def lfw_dev_test(root: Path, progress: trainer.Progress | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """LFW's pairsDevTest.txt pairs (people disjoint from DevTrain), when `root` is an LFW folder holding it."""
    from faceapp.bench.lfw import image_path, parse_pairs

    path = root / "pairsDevTest.txt"
    if not path.is_file():
        return None
    pairs = parse_pairs(path)
    files = sorted({image_path(root, n, i) for p in pairs for n, i in ((p.name1, p.i1), (p.name2, p.i2))})
    where = {f: k for k, f in enumerate(files)}
    index = np.array([(where[image_path(root, p.name1, p.i1)], where[image_path(root, p.name2, p.i2)]) for p in pairs])
    same = np.array([p.name1 == p.name2 for p in pairs])
    return data.cached_chips(root, files, progress=progress), index, same


def read_people(path: Path | None) -> list[str] | None:
    """Names from an LFW people file (lines "name count", a count header, or just names), or None."""
    if path is None:
        return None
    if not path.is_file():
        raise BadInputError(f"{path}: no such people file.")
    names = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    return [n for n in names if not n.isdigit()]


def prepare(
    root: Path, people_file: Path | None, validation: float, seed: int, progress: trainer.Progress | None
) -> Inputs:
    """Aligned chips of the people in `root` (those of `people_file`), split by person; LFW's DevTest if present."""
    chosen = read_people(people_file)
    faces = data.load(root, chosen, min_images=2, progress=progress)
    train_people, val_people = data.split_people(faces.people, validation, seed)
    return Inputs(faces.subset(train_people), faces.subset(val_people), lfw_dev_test(root, progress))


def dev_test_figures(net: nn.Module, head: nn.Module | None, dev: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Any:
    """Verification figures on LFW's DevTest pairs."""
    chips, pairs, same = dev
    emb = trainer.embed(net, trainer.features(net, chips))
    if head is not None:
        return evaluate.figures(evaluate.classifier_scores(head)(emb, pairs), same, top=1.0)
    return evaluate.figures(evaluate.distance_scores(emb, pairs), same)


def summary(inputs: Inputs) -> dict[str, Any]:
    """The data part of the card."""
    t, v = inputs.train, inputs.validation
    return {
        "train_people": len(t.people),
        "train_images": len(t.labels),
        "validation_people": len(v.people),
        "validation_images": len(v.labels),
        "files_sha256": hashlib.sha256((t.digest() + v.digest()).encode()).hexdigest(),
        "lfw_dev_test_pairs": 0 if inputs.dev_test is None else len(inputs.dev_test[2]),
    }


def write_model(stem: Path, result: trainer.Trained, card: dict[str, Any]) -> dict[str, Any]:
    """NAME.safetensors and NAME.json; returns the card as written."""
    from safetensors.torch import save_file

    stem.parent.mkdir(parents=True, exist_ok=True)
    head_state = result.head.state_dict() if result.head is not None else None
    weights = stem.with_name(stem.name + ".safetensors")
    part = weights.with_name(weights.name + ".part")
    save_file({**_tensors("net", result.net.state_dict()), **_tensors("pair", head_state)}, str(part))
    part.replace(weights)
    card = {**card, "weights_file": weights.name, "weights_sha256": sha256_of(weights)}
    write_card(stem, card)
    return card


def write_card(stem: Path, card: dict[str, Any]) -> None:
    """NAME.json, replaced atomically (the catalog reads cards while the app runs)."""
    path = stem.with_name(stem.name + ".json")
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(card, indent=1))
    part.replace(path)


def build_card(
    name: str, recipe: Recipe, data_part: dict[str, Any], result: trainer.Trained, dev: tuple[Any, Any]
) -> dict[str, Any]:
    """The model card of a finished run (without the weights' digest, which write_model adds)."""
    history = result.history
    after = history.epochs[history.best_epoch]["validation"] if history.best_epoch >= 0 else history.before
    kind = "probability" if result.head is not None else "distance"
    return {
        "format": CARD_FORMAT,
        "name": name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base": recipe.base,
        "trained": recipe.train if recipe.base != "scratch" else "all (from random weights)",
        "recipe": trainer.recipe_dict(recipe),
        "data": data_part,
        "improved": history.best_epoch >= 0,
        "best_epoch": history.best_epoch,
        "metrics": {
            "validation": {"before": history.before, "after": after},
            "lfw_dev_test": {"before": dev[0], "after": dev[1]},
        },
        "threshold_kind": kind,
        # For the binary loss the verdict is P(same) >= tau; the scores above are 1 - P(same).
        "tau": 1.0 - after["tau"] if kind == "probability" else after["tau"],
        "history": [{k: v for k, v in row.items() if k != "validation"} for row in history.epochs],
        "validation_by_epoch": [
            {k: row["validation"][k] for k in ("accuracy", "tar_at_far_1pct", "tar_at_far_0.1pct")}
            for row in history.epochs
        ],
        "seconds": result.seconds,
        "images_per_second": result.images_per_second,
        "device": "cpu",
    }


def margin_part(result: trainer.Trained, validation: data.FaceSet, seed: int, recipe_base: str) -> dict[str, Any]:
    """The card's calibrated 1:K margin (distance models), from the trained network on the validation people."""
    if result.head is not None:
        return {"margin": None, "margin_calibration": "not applicable: the verdict is the pair classifier's"}
    emb = trainer.embed(result.net, trainer.features(result.net, validation.chips))
    from faceapp.core import catalog

    base = catalog.spec(recipe_base).default_margin if recipe_base in catalog.BUILTIN else None
    found = evaluate.calibrate_margin(emb, validation.labels, seed, base=base)
    if found is None:
        note = f"too few validation people for FAR 1% (under {evaluate.MIN_STRANGER_PROBES} stranger images)"
        return {"margin": None, "margin_calibration": note + "; the app uses the base model's margin"}
    return {"margin": found["margin"], "margin_calibration": found}


def train(
    root: Path,
    name: str,
    recipe: Recipe,
    people_file: Path | None = None,
    validation: float = 0.2,
    resume: bool = False,
    progress: trainer.Progress | None = None,
) -> dict[str, Any]:
    """Train a model on the people folder `root` and write it; returns its card."""
    stem = trained_dir() / check_name(name, resume)
    inputs = prepare(root, people_file, validation, recipe.seed, progress)
    if len(inputs.train.people) < recipe.p:
        raise BadInputError(f"{len(inputs.train.people)} training people; a batch takes P = {recipe.p}: lower --p.")
    meta = {"recipe": trainer.recipe_dict(recipe), "data_digest": summary(inputs)["files_sha256"]}
    net = trainer.build_network(recipe)
    dev_before = dev_test_figures(net, None, inputs.dev_test) if inputs.dev_test is not None else None
    stem.parent.mkdir(parents=True, exist_ok=True)
    result = trainer.fit(
        recipe,
        net,
        inputs.train,
        inputs.validation,
        progress,
        checkpoint=lambda ckpt: save_checkpoint(stem, ckpt, meta),
        resume=load_checkpoint(stem, meta) if resume else None,
    )
    dev_after = dev_test_figures(result.net, result.head, inputs.dev_test) if inputs.dev_test is not None else None
    card = build_card(name, recipe, {**summary(inputs), "folder": root.name}, result, (dev_before, dev_after))
    card.update(margin_part(result, inputs.validation, recipe.seed, recipe.base))
    card = write_model(stem, result, card)
    for suffix in (".checkpoint.safetensors", ".checkpoint.json"):
        stem.with_name(stem.name + suffix).unlink(missing_ok=True)
    return card


def card_text(card: dict[str, Any]) -> str:
    """The figures a person reads after a run."""

    def row(label: str, f: dict[str, Any] | None) -> str:
        if not f:
            return f"{label:28}  -"
        return (
            f"{label:28}  accuracy {100 * f['accuracy']:6.2f}%  TAR {100 * f['tar_at_far_1pct']:6.2f}% @ FAR 1%  "
            f"{100 * f['tar_at_far_0.1pct']:6.2f}% @ 0.1%"
        )

    m = card["metrics"]
    lines = [
        f"model {card['name']}: {card['base']}, trained {card['trained']}, loss {card['recipe']['loss']}"
        + (f" ({card['recipe']['mining']})" if card["recipe"]["loss"] == "triplet" else ""),
        f"data: {card['data']['train_people']} people / {card['data']['train_images']} images to train, "
        f"{card['data']['validation_people']} / {card['data']['validation_images']} to validate",
        row("validation, before", m["validation"]["before"]),
        row("validation, after", m["validation"]["after"]),
        row("LFW pairsDevTest, before", m["lfw_dev_test"]["before"]),
        row("LFW pairsDevTest, after", m["lfw_dev_test"]["after"]),
        f"calibrated tau ({card['threshold_kind']}): {card['tau']:.4f}; {card['seconds']:.0f} s, "
        f"{card['images_per_second']:.0f} images/s",
    ]
    calibration = card.get("margin_calibration")
    if isinstance(calibration, dict):
        lines.append(
            f"calibrated margin (1:K): {card['margin']:.2f} (DIR at FAR 1% on {calibration['known_people']} "
            f"validation people and {calibration['stranger_probes']} stranger images; the base's margin is kept "
            f"unless another gains {100 * evaluate.MIN_MARGIN_GAIN:.0f} point)"
        )
    elif calibration:
        lines.append(f"margin (1:K): {calibration}")
    if not card["improved"]:
        lines.append("No epoch beat the base model on the validation people: the model written is the base model.")
    return "\n".join(lines)
