"""`faceapp train`: its arguments, progress on stderr, the card's figures on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceapp.core.embedders.trained_net import TRAIN_MODES
from faceapp.train.mining import MINERS
from faceapp.train.trainer import BASES, LOSSES, Recipe


def build_parser() -> argparse.ArgumentParser:
    """The `faceapp train` argument parser."""
    p = argparse.ArgumentParser(
        prog="faceapp train",
        description="Learn the similarity d(a, b) = ||f(a) - f(b)||^2 from a folder of people (one sub-folder each).",
    )
    p.add_argument("data", type=Path, help="a folder with one sub-folder of images per person (LFW's layout)")
    p.add_argument("--out", required=True, metavar="NAME", help="the trained model's name")
    p.add_argument("--loss", choices=LOSSES, default="triplet", help="default: triplet")
    p.add_argument("--mining", choices=MINERS, default="semi-hard", help="triplet mining (default: semi-hard)")
    p.add_argument("--margin", type=float, help="triplet alpha (default 0.2) or contrastive margin (default 1.0)")
    p.add_argument("--train", choices=TRAIN_MODES, default="head", help="what is trained (default: head)")
    p.add_argument("--base", choices=BASES, default="dlib-resnet", help="start from (default: dlib-resnet)")
    p.add_argument("--epochs", type=int, default=10, help="at most this many epochs (default 10)")
    p.add_argument("--p", type=int, default=16, help="people a batch (default 16)")
    p.add_argument("--k", type=int, default=4, help="images a person a batch (default 4)")
    p.add_argument("--lr", type=float, help="learning rate (default by --train: head 1e-3, last 1e-4, all 1e-5)")
    p.add_argument("--patience", type=int, default=3, help="stop after N epochs without a better validation")
    p.add_argument("--max-steps", type=int, help="batches an epoch (default: about every image once)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same model (default 0)")
    p.add_argument("--people", type=Path, help="only these people (an LFW people file such as peopleDevTrain.txt)")
    p.add_argument("--validation", type=float, default=0.2, help="share of people held out (default 0.2)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint of --out")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--plots", type=Path, help="write PNG plots (loss, validation, histograms, ROC) into this folder")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    return p


def main(argv: list[str]) -> int:
    """Train; 0 on success (BadInputError and friends are reported by faceapp's main)."""
    args = build_parser().parse_args(argv)
    import torch

    from faceapp.train.run import card_text, train

    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = Recipe(
        loss=args.loss,
        mining=args.mining,
        margin=args.margin,
        train=args.train,
        base=args.base,
        p=args.p,
        k=args.k,
        epochs=args.epochs,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        max_steps=args.max_steps,
    )
    card = train(args.data, args.out, recipe, args.people, args.validation, args.resume, _progress)
    print(json.dumps(card, indent=1) if args.json else card_text(card))
    from faceapp.core import catalog

    if not args.json and catalog.usable_card(card):
        print(f"use it: faceapp --model {card['name']} ... (a gallery switched to it re-embeds its samples)")
    elif not args.json:
        print("not a gallery model: a binary-loss model's verdict is its pair classifier, not d <= tau")
    if args.plots is not None:
        from faceapp.train import plots

        for path in plots.write(card, args.plots):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
