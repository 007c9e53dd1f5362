"""The training loop: P x K batches through one shared network, a loss, online mining, validation every epoch.

Reproducible: every epoch re-seeds torch and the sampler from (seed, epoch), so a run resumed from a checkpoint at
an epoch boundary continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from faceapp.core.catalog import TRAINABLE_FAMILIES
from faceapp.core.embedders.trained_net import DlibTrainable, SmallCNN
from faceapp.train import evaluate
from faceapp.train.data import FaceSet
from faceapp.train.losses import PairClassifier, binary_loss, contrastive_loss, pairwise_sq_distances, triplet_loss
from faceapp.train.mining import miner
from faceapp.train.sampler import PKSampler

LOSSES = ("triplet", "contrastive", "binary")
BASES = tuple(TRAINABLE_FAMILIES)  # ("dlib-resnet", "scratch"): what a trained model can start from
Progress = Callable[[str], None]
EMBEDDING_DIM = 128  # dlib-resnet's and SmallCNN's


@dataclass(frozen=True)
class Recipe:
    """Everything that decides what a run learns (written into the model card)."""

    loss: str = "triplet"
    mining: str = "semi-hard"
    margin: float | None = None  # triplet alpha (default 0.2) or contrastive m (euclidean, default 1.0)
    train: str = "head"
    base: str = "dlib-resnet"
    p: int = 16
    k: int = 4
    epochs: int = 10
    lr: float | None = None  # default by what is trained: head 1e-3, last 1e-4, all 1e-5 (scratch 1e-3)
    weight_decay: float = 0.0
    patience: int = 3
    seed: int = 0
    max_steps: int | None = None  # batches per epoch (default: about every image once)

    def alpha(self) -> float:
        """The loss's margin."""
        return self.margin if self.margin is not None else (1.0 if self.loss == "contrastive" else 0.2)

    def learning_rate(self) -> float:
        """The optimiser's step size."""
        if self.lr is not None:
            return self.lr
        if self.base == "scratch":
            return 1e-3
        return {"head": 1e-3, "last": 1e-4, "all": 1e-5}[self.train]


@dataclass
class History:
    """Per-epoch figures of a run."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)  # validation figures of the untrained network
    best_epoch: int = -1  # -1: no epoch beat the untrained network, which is then what the run returns
    best_score: float = -1.0


def build_network(recipe: Recipe) -> nn.Module:
    """The network to train: dlib-resnet (verified weights) with a frozen trunk, or a small CNN from scratch."""
    if recipe.base == "scratch":
        torch.manual_seed(recipe.seed)
        return SmallCNN()
    if recipe.base not in BASES:
        raise ValueError(f"unknown base {recipe.base!r}; choose one of {', '.join(BASES)}")
    from faceapp.core import weights
    from faceapp.core.embedders.dlib_format import read_network
    from faceapp.core.embedders.dlib_net import DlibResNet

    base = DlibResNet(read_network(weights.resolve(recipe.base))).to(torch.float32)
    return DlibTrainable(base, recipe.train)


@dataclass
class Features:
    """What the trained part of the network reads for each image and its mirror image (computed once)."""

    plain: torch.Tensor
    mirror: torch.Tensor

    def take(self, rows: np.ndarray, flip: np.ndarray) -> torch.Tensor:
        """Rows of the batch, each from the mirror image where `flip`."""
        idx = torch.from_numpy(rows)
        x = self.plain[idx].clone()
        m = torch.from_numpy(flip)
        if bool(m.any()):
            x[m] = self.mirror[idx[m]]
        return x.float()


def features(net: nn.Module, chips: np.ndarray, batch: int = 64, device: str = "cpu") -> Features:
    """The frozen trunk's outputs for chips (N, 150, 150, 3) uint8 and for their mirror images."""
    outs: list[list[torch.Tensor]] = [[], []]
    for start in range(0, len(chips), batch):
        pixels = torch.from_numpy(np.ascontiguousarray(chips[start : start + batch])).permute(0, 3, 1, 2)
        for j, x in enumerate((pixels, pixels.flip(3))):
            if getattr(net, "mode", "all") == "all":
                outs[j].append(x.contiguous())  # the pixels themselves, kept as uint8
            else:
                outs[j].append(net.trunk(x.to(device, torch.float32)).cpu())  # type: ignore[operator]
    return Features(torch.cat(outs[0]), torch.cat(outs[1]))


def embed(net: nn.Module, feats: Features, batch: int = 256, device: str = "cpu") -> np.ndarray:
    """Unit embeddings (N, D) as the app computes them: the mean of the image's and its mirror's, normalised."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(feats.plain), batch):
            rows = np.arange(start, min(start + batch, len(feats.plain)))
            a = net.tail(feats.take(rows, np.zeros(len(rows), bool)).to(device))  # type: ignore[operator]
            b = net.tail(feats.take(rows, np.ones(len(rows), bool)).to(device))  # type: ignore[operator]
            out.append(F.normalize(a + b, dim=1).cpu())
    net.train()
    return torch.cat(out).numpy().astype(np.float32)


def _balanced_pairs(labels: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every same-person pair of the batch and as many different-person pairs drawn at random: (i, j, same)."""
    same = labels[:, None] == labels[None, :]
    upper = torch.triu(torch.ones_like(same), diagonal=1)
    pi, pj = (same & upper).nonzero(as_tuple=True)
    ni, nj = (~same & upper).nonzero(as_tuple=True)
    pick = torch.randperm(len(ni), generator=gen)[: len(pi)]
    i, j = torch.cat([pi, ni[pick]]), torch.cat([pj, nj[pick]])
    flags = torch.cat([torch.ones(len(pi)), torch.zeros(len(pick))])
    return i, j, flags


def batch_loss(
    recipe: Recipe, emb: torch.Tensor, labels: torch.Tensor, head: PairClassifier | None, gen: torch.Generator
) -> tuple[torch.Tensor, dict[str, float]]:
    """The recipe's loss on one batch of unit embeddings, with the share of active triplets (or pairs)."""
    d = pairwise_sq_distances(emb)
    if recipe.loss == "triplet":
        a, p, n = miner(recipe.mining, gen)(d.detach(), labels)
        loss, active = triplet_loss(d[a, p], d[a, n], recipe.alpha())
        if recipe.mining == "batch-all" and active.item() > 0:  # the mean over the triplets that still teach
            loss = loss / active.item()
        return loss, {"active": float(active), "triplets": float(a.numel())}
    i, j, same = _balanced_pairs(labels, gen)
    if recipe.loss == "contrastive":
        return contrastive_loss(d[i, j], same, recipe.alpha()), {"pairs": float(i.numel())}
    assert head is not None
    logits = head(emb[i], emb[j])
    return binary_loss(logits, same), {"pairs": float(i.numel())}


def validation_figures(
    net: nn.Module, head: PairClassifier | None, feats: Features, labels: np.ndarray, seed: int
) -> dict[str, Any]:
    """Verification figures on held-out people's pairs."""
    pairs, same = evaluate.eval_pairs(labels, seed)
    emb = embed(net, feats)
    if head is not None:
        scores = evaluate.classifier_scores(head)(emb, pairs)
        return evaluate.figures(scores, same, top=1.0)
    return evaluate.figures(evaluate.distance_scores(emb, pairs), same)


@dataclass
class Checkpoint:
    """The state after a finished epoch: enough to resume exactly, and the best epoch's weights so far."""

    epoch: int
    net: dict[str, Any]
    head: dict[str, Any] | None
    optimizer: dict[str, Any]
    history: History
    best_net: dict[str, Any]
    best_head: dict[str, Any] | None


@dataclass
class Trained:
    """A finished run: the network at its best epoch, the pair classifier (binary loss), the history."""

    net: nn.Module
    head: PairClassifier | None
    history: History
    seconds: float
    images_per_second: float


def _epoch(
    recipe: Recipe,
    net: nn.Module,
    head: PairClassifier | None,
    opt: torch.optim.Optimizer,
    feats: Features,
    labels: np.ndarray,
    epoch: int,
    progress: Progress | None,
) -> dict[str, float]:
    """One pass of P x K batches; the mean loss, active share and throughput."""
    torch.manual_seed(recipe.seed * 1009 + epoch)
    gen = torch.Generator().manual_seed(recipe.seed * 1009 + epoch)
    sampler = PKSampler(labels, recipe.p, recipe.k, seed=recipe.seed * 1009 + epoch)
    flips = np.random.default_rng(recipe.seed * 1009 + epoch)
    steps = min(len(sampler), recipe.max_steps or len(sampler))
    losses, actives, start, last_report = [], [], time.perf_counter(), 0.0
    for step, rows in enumerate(sampler):
        if step >= steps:
            break
        x = feats.take(rows, flips.random(len(rows)) < 0.5)
        emb = net.tail(x)  # type: ignore[operator]
        loss, stats = batch_loss(recipe, emb, torch.from_numpy(labels[rows]), head, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        actives.append(stats.get("active", float("nan")))
        elapsed = time.perf_counter() - start
        if progress is not None and (elapsed - last_report > 2.0 or step + 1 == steps):
            last_report = elapsed
            eta = elapsed / (step + 1) * (steps - step - 1)
            active = "" if np.isnan(actives[-1]) else f", active triplets {100 * actives[-1]:.0f}%"
            progress(
                f"epoch {epoch + 1}/{recipe.epochs}: batch {step + 1}/{steps}, loss {np.mean(losses):.4f}"
                f"{active}, {(step + 1) * len(rows) / elapsed:.0f} images/s, about {eta:.0f} s left in the epoch"
            )
    seconds = time.perf_counter() - start
    return {
        "loss": float(np.mean(losses)) if losses else float("nan"),
        "active_triplets": float(np.nanmean(actives)) if losses and not np.isnan(actives).all() else float("nan"),
        "seconds": seconds,
        "images_per_second": steps * recipe.p * recipe.k / max(seconds, 1e-9),
    }


def make_optimizer(recipe: Recipe, net: nn.Module, head: PairClassifier | None) -> torch.optim.Optimizer:
    """Adam on the trained parameters (and the pair classifier's)."""
    params = list(net.trained_parameters())  # type: ignore[operator]
    if head is not None:
        params += list(head.parameters())
    return torch.optim.Adam(params, lr=recipe.learning_rate(), weight_decay=recipe.weight_decay)


def fit(
    recipe: Recipe,
    net: nn.Module,
    train_set: FaceSet,
    val_set: FaceSet,
    progress: Progress | None = None,
    checkpoint: Callable[[Checkpoint], None] | None = None,
    resume: Checkpoint | None = None,
) -> Trained:
    """Train for up to recipe.epochs, validating after each; stop after `patience` epochs without a better
    validation accuracy, and return the network as it was at its best epoch."""
    if recipe.loss not in LOSSES:
        raise ValueError(f"unknown loss {recipe.loss!r}; choose one of {', '.join(LOSSES)}")
    torch.manual_seed(recipe.seed)
    head = PairClassifier(EMBEDDING_DIM) if recipe.loss == "binary" else None
    train_feats = features(net, train_set.chips)
    val_feats = features(net, val_set.chips)
    opt = make_optimizer(recipe, net, head)
    history, first, best = History(), 0, _snapshot(net, head)
    if resume is not None:
        net.load_state_dict(resume.net)
        if head is not None and resume.head is not None:
            head.load_state_dict(resume.head)
        opt.load_state_dict(resume.optimizer)
        history, first, best = resume.history, resume.epoch + 1, (resume.best_net, resume.best_head)
    if resume is None:
        history.before = validation_figures(net, None, val_feats, val_set.labels, recipe.seed)  # the base: d
        history.best_score = _score(history.before)
    start = time.perf_counter()
    net.train()
    for epoch in range(first, recipe.epochs):
        row: dict[str, Any] = dict(_epoch(recipe, net, head, opt, train_feats, train_set.labels, epoch, progress))
        row["validation"] = validation_figures(net, head, val_feats, val_set.labels, recipe.seed)
        row["epoch"] = epoch
        history.epochs.append(row)
        score = _score(row["validation"])
        if score > history.best_score:
            history.best_score, history.best_epoch, best = score, epoch, _snapshot(net, head)
        if progress is not None:
            v = row["validation"]
            progress(
                f"epoch {epoch + 1}: validation accuracy {100 * v['accuracy']:.2f}%, "
                f"TAR {100 * v['tar_at_far_1pct']:.2f}% @ FAR 1%, {100 * v['tar_at_far_0.1pct']:.2f}% @ 0.1%"
            )
        if checkpoint is not None:
            state = _snapshot(net, head)
            saved = copy.deepcopy((opt.state_dict(), history))  # later epochs must not change what was saved
            checkpoint(Checkpoint(epoch, state[0], state[1], saved[0], saved[1], best[0], best[1]))
        if epoch - history.best_epoch >= recipe.patience:
            if progress is not None:
                progress(f"early stop: no better validation accuracy for {recipe.patience} epochs")
            break
    net.load_state_dict(best[0])
    if head is not None and best[1] is not None:
        head.load_state_dict(best[1])
    if history.best_epoch < 0:
        head = None  # nothing beat the base, which is scored by distance: an untrained classifier is no verdict
    net.eval()
    seconds = time.perf_counter() - start
    rates = [r["images_per_second"] for r in history.epochs]
    return Trained(net, head, history, seconds, float(np.mean(rates)) if rates else float("nan"))


def _score(figures: dict[str, Any]) -> float:
    """What early stopping maximises: validation accuracy, ties broken by TAR at FAR 1%."""
    return float(figures["accuracy"] + 1e-3 * figures["tar_at_far_1pct"])


def _snapshot(net: nn.Module, head: PairClassifier | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    clone = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return clone, ({k: v.detach().clone() for k, v in head.state_dict().items()} if head is not None else None)


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe for the card, with the margin and learning rate as used."""
    return {**asdict(recipe), "margin": recipe.alpha(), "lr": recipe.learning_rate()}
