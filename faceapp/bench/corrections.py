"""`faceapp bench corrections`: strangers named before and after one "not X" per wrongly named stranger (issue 13).

The one-shot open-set gallery of `bench identify`, on LFW's development test people (peopleDevTest.txt, identity-
disjoint from peopleDevTrain.txt; the rule has no parameter, so nothing is tuned): the people with two or more photos
are shuffled (seed 0) and split in two. One half is enrolled with their first photo (their other photos are the
known probes); the other half, and every one-photo person, are strangers (all their photos are probes).

Every probe is identified with the app's GallerySnapshot.identify under the model's default tau and margin. Then,
for each stranger identity with a photo given a name, the first such photo (in LFW's order) is recorded as a negative
of the person it was named as ("Not X"), as the live view's menu does. Everything is identified again with the
corrected snapshot, and the benchmark counts strangers named before -> after, each pair over one and the same set of
photos: every stranger photo (the negatives' own photos included: named before, which is why they were picked), and
the held-out ones, which leave the negatives' own photos out of both counts (the headline figures: a correction is
no test of itself); the held-out ones are split into that stranger's OTHER photos and the other strangers' photos.
It also counts the known probes named right before that turn Unknown or get another name after (the known faces
lost to the corrections).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench.embed_cache import PIPELINE_VERSION, batch_detector, embed_dataset
from faceapp.bench.identify import list_people, read_people
from faceapp.bench.lfw import lfw_root
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule
from faceapp.errors import BadInputError

DEFAULT_PEOPLE = "peopleDevTest.txt"


@dataclass(frozen=True)
class CorrectionSplit:
    """Gallery (first photo of each enrolled person), known probes, and strangers' photos with their identity."""

    gallery: list[Path]
    gallery_ids: np.ndarray
    known: list[Path]
    known_ids: np.ndarray
    strangers: list[Path]
    stranger_ids: np.ndarray


def split_people(people: dict[str, list[Path]], seed: int = 0) -> CorrectionSplit:
    """Half of the people with 2+ photos enrolled one-shot, the other half and the one-photo people strangers."""
    several = [name for name, images in people.items() if len(images) > 1]
    rng = np.random.default_rng(seed)
    enrolled = set(rng.permutation(several)[: len(several) // 2].tolist())
    gallery, gallery_ids, known, known_ids, strangers, stranger_ids = [], [], [], [], [], []
    for pid, (name, images) in enumerate(people.items()):
        if name in enrolled:
            gallery.append(images[0])
            gallery_ids.append(pid)
            known += images[1:]
            known_ids += [pid] * (len(images) - 1)
        else:
            strangers += images
            stranger_ids += [pid] * len(images)
    if not gallery or not strangers:
        raise BadInputError("These people leave an empty gallery or no strangers; use a larger people file.")
    return CorrectionSplit(
        gallery, np.array(gallery_ids), known, np.array(known_ids), strangers, np.array(stranger_ids)
    )


def _named(snapshot: GallerySnapshot, probes: np.ndarray, rule: MatchRule) -> tuple[np.ndarray, np.ndarray]:
    """Whether each probe is given a name, and whose (-1 for Unknown)."""
    matches = snapshot.identify(probes, rule)
    accepted = np.array([m.accepted for m in matches], bool)
    who = np.array([m.person_id if m.accepted and m.person_id is not None else -1 for m in matches], np.int64)
    return accepted, who


def named_next_person(snapshot: GallerySnapshot, probes: np.ndarray, rule: MatchRule) -> tuple[np.ndarray, np.ndarray]:
    """The variant the app does not use: a refused person's distance set to inf, so the probe goes to the next
    person (named if within tau and clear of the one after); returns (named, whose) like _named."""
    from faceapp.core.matching import two_nearest

    people, d = snapshot.person_distances(probes)
    columns, refused = snapshot.refusals(probes)
    if columns.shape[0]:
        block = d[:, columns]
        block[refused] = np.inf
        d = d.copy()
        d[:, columns] = block
    best, d1, _, d2 = two_nearest(d)
    named = np.isfinite(d1) & rule.clear_mask(d1, d2) & (d1 <= rule.threshold)
    return named, np.where(named, people[best], -1)


def measure(
    gallery: np.ndarray,
    gallery_ids: np.ndarray,
    known: np.ndarray,
    known_ids: np.ndarray,
    strangers: np.ndarray,
    stranger_ids: np.ndarray,
    rule: MatchRule,
    scoring: str = "nearest",
) -> dict[str, Any]:
    """The before / after figures (see the module docstring) on embedded probes."""
    names = {int(i): str(i) for i in gallery_ids}
    before = GallerySnapshot("bench", gallery_ids, names, gallery, scoring)  # type: ignore[arg-type]
    s_named, s_who = _named(before, strangers, rule)
    k_named, k_who = _named(before, known, rule)
    used: list[int] = []  # one photo per wrongly named stranger identity: its first named one
    for identity in dict.fromkeys(stranger_ids.tolist()):
        named = np.flatnonzero((stranger_ids == identity) & s_named)
        if named.size:
            used.append(int(named[0]))
    used_rows = np.array(used, np.int64)
    negatives = (s_who[used_rows], strangers[used_rows])
    after = GallerySnapshot("bench", gallery_ids, names, gallery, scoring, *negatives)  # type: ignore[arg-type]
    s_after, s_who_after = _named(after, strangers, rule)
    k_after, k_who_after = _named(after, known, rule)
    s_next, _ = named_next_person(after, strangers, rule)
    k_next, k_who_next = named_next_person(after, known, rule)

    everyone = np.ones(len(stranger_ids), bool)
    probe = everyone.copy()
    probe[used_rows] = False  # the negatives' own photos are no test of anything
    corrected = np.isin(stranger_ids, stranger_ids[used_rows]) & probe
    others = ~np.isin(stranger_ids, stranger_ids[used_rows])
    right = k_named & (k_who == known_ids)

    def rate(mask: np.ndarray, named: np.ndarray) -> dict[str, float | int]:
        return {"images": int(mask.sum()), "named": int((named & mask).sum()), "rate": _share(named & mask, mask)}

    return {
        "threshold": rule.threshold,
        "margin": rule.margin,
        "gallery_people": len(gallery_ids),
        "known_probes": len(known_ids),
        "stranger_images": len(stranger_ids),
        "stranger_identities": len(set(stranger_ids.tolist())),
        "corrections": len(used),
        "all_strangers_before": rate(everyone, s_named),  # every stranger photo, before and after
        "all_strangers_after": rate(everyone, s_after),
        "strangers_before": rate(probe, s_named),  # the held-out photos (not used as corrections), before and after
        "strangers_after": rate(probe, s_after),
        "corrected_others_before": rate(corrected, s_named),
        "corrected_others_after": rate(corrected, s_after),
        "other_strangers_before": rate(others, s_named),
        "other_strangers_after": rate(others, s_after),
        "negatives_named_after": int(s_after[used_rows].sum()),  # as someone else: the corrected person is refused
        "negatives_same_name_after": int((s_after & (s_who_after == s_who))[used_rows].sum()),
        "known_right_before": int(right.sum()),
        "known_right_after": int((k_after & (k_who_after == known_ids)).sum()),
        "known_lost_unknown": int((right & ~k_after).sum()),
        "known_lost_renamed": int((right & k_after & (k_who_after != known_ids)).sum()),
        "known_wrong_before": int((k_named & (k_who != known_ids)).sum()),
        "known_wrong_after": int((k_after & (k_who_after != known_ids)).sum()),
        "next_person_variant": {
            "all_strangers_after": rate(everyone, s_next),
            "strangers_after": rate(probe, s_next),
            "corrected_others_after": rate(corrected, s_next),
            "other_strangers_after": rate(others, s_next),
            "known_right_after": int((k_next & (k_who_next == known_ids)).sum()),
            "known_wrong_after": int((k_next & (k_who_next != known_ids)).sum()),
        },
    }


def _share(hits: np.ndarray, of: np.ndarray) -> float:
    total = int(of.sum())
    return float(hits.sum()) / total if total else float("nan")


def run(
    data: Path,
    model: str = "dlib-resnet",
    people_file: str = DEFAULT_PEOPLE,
    seed: int = 0,
    tau: float | None = None,
    margin: float | None = None,
    use_cache: bool = True,
    embedder: Any = None,
    detector: Any = None,
) -> dict[str, Any]:
    """Embed the people file's photos once (cached) and measure the corrections."""
    from faceapp.core.embedders.registry import create_embedder

    root = lfw_root(data)
    people = list_people(root)
    wanted = read_people(root / people_file if not Path(people_file).is_absolute() else Path(people_file))
    people = {name: images for name, images in people.items() if name in wanted}
    split = split_people(people, seed)
    embedder = embedder or create_embedder(model)
    files = split.gallery + split.known + split.strangers
    progress = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    e = embed_dataset("lfw", files, root, embedder, detector or batch_detector(), use_cache, progress).embeddings
    ng, nk = len(split.gallery), len(split.known)
    info = embedder.info
    rule = MatchRule(info.default_threshold if tau is None else tau, info.default_margin if margin is None else margin)
    figures = measure(
        e[:ng], split.gallery_ids, e[ng : ng + nk], split.known_ids, e[ng + nk :], split.stranger_ids, rule,
        info.scoring,
    )  # fmt: skip
    return {
        "benchmark": "corrections",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": embedder.name,
        "pipeline_version": PIPELINE_VERSION,
        "people_file": people_file,
        "seed": seed,
        "scoring": info.scoring,
        **figures,
    }


def _pct(part: dict[str, Any]) -> str:
    return f"{part['named']}/{part['images']} ({100 * part['rate']:.2f}%)"


def text(r: dict[str, Any]) -> str:
    """The result in words."""
    v = r["next_person_variant"]
    return "\n".join(
        [
            f"model {r['model']} ({r['scoring']}), tau {r['threshold']:g}, margin {r['margin']:g}, {r['people_file']}, "
            f"seed {r['seed']}",
            f"gallery {r['gallery_people']} people (one photo each), {r['known_probes']} known probes, "
            f"{r['stranger_images']} stranger photos of {r['stranger_identities']} people",
            f"corrections recorded: {r['corrections']} (one per wrongly named stranger)",
            f"strangers named, every photo:       {_pct(r['all_strangers_before'])} -> "
            f"{_pct(r['all_strangers_after'])}",
            f"strangers named, held out:          {_pct(r['strangers_before'])} -> {_pct(r['strangers_after'])} "
            "(the corrections' own photos left out of both)",
            f"  the corrected strangers' others:  {_pct(r['corrected_others_before'])} -> "
            f"{_pct(r['corrected_others_after'])}",
            f"  the other strangers:              {_pct(r['other_strangers_before'])} -> "
            f"{_pct(r['other_strangers_after'])}",
            f"  the corrected photos themselves:  {r['negatives_same_name_after']} keep their wrong name, "
            f"{r['negatives_named_after']} named after (as someone else)",
            f"known probes named right:           {r['known_right_before']} -> {r['known_right_after']} "
            f"(lost: {r['known_lost_unknown']} now Unknown, {r['known_lost_renamed']} now another name)",
            f"known probes given a wrong name:    {r['known_wrong_before']} -> {r['known_wrong_after']}",
            "the variant not used (a refused face goes to the next person): strangers named "
            f"{_pct(v['strangers_after'])}, corrected strangers' others {_pct(v['corrected_others_after'])}, "
            f"other strangers {_pct(v['other_strangers_after'])}; known right {v['known_right_after']}, "
            f"wrong {v['known_wrong_after']}",
        ]
    )


def main(argv: list[str]) -> int:
    """Run the suite; prints the figures (and writes JSON with --out)."""
    parser = argparse.ArgumentParser(prog="faceapp bench corrections", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the LFW folder (holding pairs.txt), or its parent")
    parser.add_argument("--model", default="dlib-resnet", help="embedder name (default: dlib-resnet)")
    parser.add_argument("--people", default=DEFAULT_PEOPLE, help=f"LFW people file (default: {DEFAULT_PEOPLE})")
    parser.add_argument("--seed", type=int, default=0, help="which half of the people is enrolled (default 0)")
    parser.add_argument("--tau", type=float, help="distance threshold (default: the model's)")
    parser.add_argument("--margin", type=float, help="ambiguity margin (default: the model's)")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--no-cache", action="store_true", help="embed every image again and keep nothing")
    args = parser.parse_args(argv)
    result = run(
        args.data, args.model, args.people, args.seed, args.tau, args.margin, use_cache=not args.no_cache
    )  # fmt: skip
    print(text(result))
    if args.out is not None:
        from faceapp.bench import report

        report.write_json(result, args.out)
        print(f"\nwrote {args.out}")
    return 0
