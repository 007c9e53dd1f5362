"""`faceapp train --plots DIR`: loss and validation by epoch, distance histograms before and after, ROC curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write(card: dict[str, Any], folder: Path) -> list[Path]:
    """PNG plots of a finished run's card; returns their paths."""
    from faceapp.bench.report import plot_curves, pyplot

    plt = pyplot()  # a one-line error naming the `bench` extra when matplotlib is missing

    folder.mkdir(parents=True, exist_ok=True)
    name, written = card["name"], []
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    epochs = [row["epoch"] + 1 for row in card["history"]]
    left.plot(epochs, [row["loss"] for row in card["history"]], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title=f"{name}: {card['recipe']['loss']} loss")
    right.plot(epochs, [100 * v["accuracy"] for v in card["validation_by_epoch"]], marker="o", label="after epoch")
    right.axhline(100 * card["metrics"]["validation"]["before"]["accuracy"], color="grey", ls="--", label="base")
    right.set(xlabel="epoch", ylabel="validation accuracy (%)", title="held-out people")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(folder / f"train-{name}-curves.png")
    fig.savefig(written[-1])
    plt.close(fig)
    for split, figures in card["metrics"].items():
        before, after = figures["before"], figures["after"]
        if not before or not after:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100, sharey=True)
        for ax, (title, f) in zip(axes, (("before", before), ("after", after)), strict=True):
            h = f["histogram"]
            centres = [(a + b) / 2 for a, b in zip(h["edges"], h["edges"][1:], strict=False)]
            width = h["edges"][1] - h["edges"][0]
            ax.bar(centres, h["genuine"], width=width, alpha=0.6, label="same person")
            ax.bar(centres, h["impostor"], width=width, alpha=0.6, label="different people")
            ax.axvline(f["tau"], color="k", ls="--", label=f"best threshold {f['tau']:.3f}")
            ax.set(title=f"{split}, {title}: accuracy {100 * f['accuracy']:.2f}%", xlabel="score (d, or 1 - P(same))")
            ax.legend()
        fig.tight_layout()
        written.append(folder / f"train-{name}-{split}-histograms.png")
        fig.savefig(written[-1])
        plt.close(fig)
        written.append(folder / f"train-{name}-{split}-roc.png")
        curves = [(label, f["roc"]["far"], f["roc"]["tar"]) for label, f in (("before", before), ("after", after))]
        plot_curves(curves, written[-1], f"{name}, {split}", "true accept rate")
    return written
