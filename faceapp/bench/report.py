"""Presenting benchmark results: readable tables on stdout, JSON files, and ROC / DIR plots (matplotlib, Agg)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faceapp.errors import FaceAppError


def _pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def table(rows: list[tuple[str, str]], title: str) -> str:
    """Two aligned columns under a title."""
    width = max(len(label) for label, _ in rows)
    lines = [title, "=" * len(title)]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


def speed_rows(speed: dict[str, Any]) -> list[tuple[str, str]]:
    """The speed lines shared by every benchmark."""
    mirror = speed.get("mirror_averaging")
    return [
        ("images embedded this run", f"{speed['images_computed']} in {speed['seconds']:.1f} s"),
        ("images/s (this run)", _num(speed["images_per_s"])),
        ("images/s (all cache builds)", _num(speed["images_per_s_when_cached"])),
        ("MTCNN ms per image", _num(speed["detect_ms_per_image"])),
        ("load+align+embed ms/image", _num(speed["load_align_embed_ms_per_image"])),
        (
            "embedder ms/face, live",
            _num(speed["embed_ms_per_face_live"]) + ("" if mirror is None else f" (mirror {mirror})"),
        ),
        ("embedder ms/face, batch 32", _num(speed["embed_ms_per_face_batch32"])),
        ("torch threads", str(speed["torch_threads"])),
    ]


def lfw_text(result: dict[str, Any]) -> str:
    """The `bench lfw` result as a table."""
    rows = [
        ("model", result["model"]),
        ("pairs", f"{result['pairs']} ({result['pairs_file']}, {result['folds']} folds)"),
    ]
    rows.append(("distinct images", str(result["images"])))
    if "accuracy_mean" in result:
        rows.append(("10-fold accuracy", f"{_pct(result['accuracy_mean'])} +- {_pct(result['accuracy_std'])}"))
        rows.append(("fold thresholds", " ".join(f"{t:.4f}" for t in result["fold_thresholds"])))
        rows.append(("mean fold threshold", f"{result['threshold_mean_of_folds']:.4f}"))
    rows.append(
        ("best threshold, all pairs", f"{result['threshold_best_all']:.4f} ({_pct(result['accuracy_best_all'])})")
    )
    rows.append(("default threshold", f"{result['default_threshold']:.4f} ({_pct(result['accuracy_at_default'])})"))
    for row in result["tar_at_far"]:
        rows.append((f"TAR @ FAR {_pct(row['far'], 1)}", f"{_pct(row['tar'])} (threshold {row['threshold']:.4f})"))
    rows.append(("ROC AUC", f"{result['auc']:.5f}"))
    no_face, multi = result["no_face"], result["multi_face"]
    rows.append(("no face found", f"{no_face['count']} images; {no_face['handling']}"))
    rows += [(f"  {name}", "") for name in no_face["images"][:20]]
    rows.append(("several faces found", f"{multi['count']} images; {multi['handling']}"))
    rows += speed_rows(result["speed"])
    return table(rows, f"LFW verification ({result['date']})")


def identify_text(result: dict[str, Any]) -> str:
    """The `bench identify` result as a table."""
    rows = [
        ("model", result["model"]),
        ("people", result.get("people_file") or "all of LFW"),
        ("gallery", f"{result['gallery_images']} images of {result['gallery_people']} people (K={result['samples']})"),
        ("known probes", str(result["known_probes"])),
        ("unknown probes", f"{result['unknown_probes']} images of {result['unknown_people']} people with <= K images"),
        ("rank-1 accuracy", _pct(result["rank1"])),
    ]
    margin = result["margin"]
    for only, ruled in zip(result["dir_at_far"], result["dir_at_far_margin"], strict=True):
        rows.append(
            (
                f"DIR @ FAR {_pct(only['far'], 1)}",
                f"{_pct(only['dir'])} by distance only (tau {only['threshold']:.4f}); "
                f"{_pct(ruled['dir'])} with margin {margin:g} (tau {ruled['threshold']:.4f})",
            )
        )
    at = result["at_default"]
    rows.append(
        (
            "at the app's default rule",
            f"tau {at['threshold']:.4f}, margin {at['margin']:g}: DIR {_pct(at['dir'])}, FAR {_pct(at['far'])} "
            f"(distance only: DIR {_pct(at['dir_distance_only'])}, FAR {_pct(at['far_distance_only'])})",
        )
    )
    sweep = "  ".join(
        f"{row['margin']:g}: {_pct(row['dir_at_far'][0]['dir'], 1)}/{_pct(row['dir_at_far'][1]['dir'], 1)}"
        for row in result["margin_sweep"]
    )
    rows.append(("margin: DIR @ FAR 1%/0.1%", sweep))
    rows.append(("best margin @ FAR 1%", f"{result['best_margin_at_far_1pct']:g}"))
    rows.append(("match one probe", f"{result['match_ms_per_probe']:.3f} ms ({result['gallery_images']} samples)"))
    rows.append(("no face found", f"{result['no_face']} images; {result['no_face_handling']}"))
    rows += speed_rows(result["speed"])
    return table(rows, f"LFW open-set identification ({result['date']})")


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write `result` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend; a one-line error when the `bench` extra is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise FaceAppError("Plots need matplotlib: pip install 'faceapp[bench]'.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curve(far: list[float], rate: list[float], path: Path, title: str, ylabel: str) -> None:
    """A TAR (or DIR) against FAR curve, log FAR axis, saved as PNG."""
    plot_curves([("", far, rate)], path, title, ylabel)


def plot_curves(curves: list[tuple[str, list[float], list[float]]], path: Path, title: str, ylabel: str) -> None:
    """Labelled TAR (or DIR) against FAR curves on one log-FAR plot, saved as PNG."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for label, far, rate in curves:
        points = [(f, r) for f, r in zip(far, rate, strict=True) if f > 0]
        if points:
            ax.plot([f for f, _ in points], [r for _, r in points], drawstyle="steps-post", label=label or None)
    if any(label for label, _, _ in curves):
        ax.legend(loc="lower right")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1.0)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
