"""The shared clips as live tracks for `bench tracks`: detected, tracked and embedded as the default worker would.

Every frame is detected with the app's detector at half size (the live view's), faces are followed by the live IoU
tracker (core.live.Tracker; every track ends at a scene cut, core.video.SceneCounter, as in the app) and embedded
when it says so (new, moved, or every third update; for the evidence also in every update while the track is
undecided, as the workers do). Detections and embeddings of every frame are cached per clip and model, so a rerun
only tracks and labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench.track_metrics import TrackSequence
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import Detection
from faceapp.errors import BadInputError

CACHE_VERSION = 1
HAMILTON = "short_hamilton_clip.mp4"
WDA = {"WDA_AlexandriaOcasioCortez_000.mp4": "Alexandria Ocasio-Cortez", "WDA_KatieHill_000.mp4": "Katie Hill"}
EXAMPLES = {"lin_manuel_miranda": "Lin-Manuel Miranda", "alex_lacamoire": "Alex Lacamoire"}
CLIP_START = 25  # a WDA clip's frame 0 enrolls its person; its tracks are played from frame 25 (1 s) on
# The Hamilton clip's people, labelled by hand from the frames: (first frame, last frame, box centre x range, name;
# "" for no enrolled person). A frame takes the first span that holds it; a track's truth is the label of most of
# its frames. Frames 0-15: Lin-Manuel Miranda small on stage (Alex Lacamoire's face at the piano is too small to be
# detected); 16-60: Alex Lacamoire in profile at the piano; 61-210: Lin-Manuel Miranda on stage (frame 152 also has
# a false detection on his hand); 211-274: the audience (the Obamas and two guests), nobody enrolled.
HAMILTON_TRUTH: tuple[tuple[int, int, float, float, str], ...] = (
    (0, 15, 400.0, 640.0, "Lin-Manuel Miranda"),
    (16, 60, 0.0, 640.0, "Alex Lacamoire"),
    (152, 152, 190.0, 250.0, ""),
    (61, 210, 0.0, 640.0, "Lin-Manuel Miranda"),
)


def read_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame of a video file as RGB, and its frame rate."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise BadInputError(f"{path}: no frames could be read (the shared clips: ../shared/data/video).")
    return frames, fps


def _detections(
    path: Path, frames: list[np.ndarray], model: str, use_cache: bool, analyzer: Any
) -> list[list[tuple[Detection, np.ndarray]]]:
    """Each frame's faces with their embeddings (cached)."""
    from faceapp import paths

    st = path.stat()
    cache = paths.cache_dir() / "bench" / f"tracks-{path.stem}-{model}-v{CACHE_VERSION}.npz"
    key = f"{path.name}|{st.st_size}|{st.st_mtime_ns}"
    if use_cache and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"]) == key:
                return _unpack(data)
    out = []
    for image in frames:
        dets = analyzer.detector.detect(image)
        faces = analyzer.embed(image, dets) if dets else []
        out.append([(f.detection, f.embedding) for f in faces])
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        rows = [(i, d, e) for i, faces in enumerate(out) for d, e in faces]
        np.savez(
            cache,
            key=np.array(key),
            frame=np.array([i for i, _, _ in rows], np.int32),
            boxes=np.array([d.box for _, d, _ in rows], np.float32).reshape(-1, 4),
            scores=np.array([d.score for _, d, _ in rows], np.float32),
            landmarks=np.array([d.landmarks for _, d, _ in rows], np.float32).reshape(-1, 5, 2),
            embeddings=np.array([e for _, _, e in rows], np.float32).reshape(len(rows), -1),
            count=np.array(len(out)),
        )
    return out


def _unpack(data: Any) -> list[list[tuple[Detection, np.ndarray]]]:
    out: list[list[tuple[Detection, np.ndarray]]] = [[] for _ in range(int(data["count"]))]
    for i, box, score, marks, emb in zip(
        data["frame"], data["boxes"], data["scores"], data["landmarks"], data["embeddings"], strict=True
    ):
        det = Detection(tuple(float(v) for v in box), float(score), marks.astype(np.float64))  # type: ignore[arg-type]
        out[int(i)].append((det, emb))
    return out


def tracks_of(
    frames: list[np.ndarray], faces: list[list[tuple[Detection, np.ndarray]]], fps: float, start: int = 0
) -> list[tuple[list[int], list[Detection], TrackSequence]]:
    """The live tracker over the faces from frame `start` on: each track's frames, boxes and sequence (no truth)."""
    from faceapp.core.live import Tracker
    from faceapp.core.track_evidence import face_quality
    from faceapp.core.video import SceneCounter

    tracker, scenes, scene = Tracker(), SceneCounter(), 0
    acc: dict[int, dict[str, list[Any]]] = {}
    for index in range(start, len(faces)):
        found = faces[index]
        if scenes.next(frames[index]) != scene:  # the capture thread's cuts end every track, as in the app
            scene = scenes.scene
            tracker.end_tracks()
        ids = tracker.assign([d for d, _ in found])
        for tid, (det, emb) in zip(ids, found, strict=True):
            fresh = tracker.needs_embedding(tid)
            if fresh:
                tracker.set_embedding(tid, emb)
            a = acc.setdefault(tid, {"frames": [], "dets": [], "emb": [], "own": [], "fresh": [], "q": []})
            a["frames"].append(index)
            a["dets"].append(det)
            a["emb"].append(tracker.embedding(tid))
            a["own"].append(emb)
            a["fresh"].append(fresh)
            a["q"].append(face_quality(frames[index], det))
    out = []
    for a in acc.values():
        emb, own = np.stack(a["emb"]), np.stack(a["own"])
        seq = TrackSequence("", None, emb, np.array(a["fresh"]), np.array(a["q"]), fps, own)
        out.append((a["frames"], a["dets"], seq))
    return out


def _with(seq: TrackSequence, source: str, truth: int | None) -> TrackSequence:
    return TrackSequence(source, truth, seq.embeddings, seq.fresh, seq.qualities, seq.fps, seq.own)


def hamilton_truth(frames: list[int], dets: list[Detection], names: dict[str, int]) -> int | None:
    """A Hamilton track's person from HAMILTON_TRUTH (None: nobody enrolled)."""
    votes: dict[str, int] = {}
    for index, det in zip(frames, dets, strict=True):
        cx = (det.box[0] + det.box[2]) / 2
        span = next((s for s in HAMILTON_TRUTH if s[0] <= index <= s[1] and s[2] <= cx <= s[3]), None)
        name = span[4] if span is not None else ""
        votes[name] = votes.get(name, 0) + 1
    best = max(votes, key=votes.__getitem__)
    return names.get(best) if best else None


def clip_sequences(
    shared: Path, model: str, use_cache: bool, progress: Any
) -> tuple[GallerySnapshot, list[TrackSequence]]:
    """The clips' gallery (4 people) and every track of the three clips with its truth."""
    from faceapp.core.analyzer import FaceAnalyzer
    from faceapp.core.detect import Detector, DetectorConfig
    from faceapp.core.embedders.registry import create_embedder
    from faceapp.core.image_io import load_image

    video = shared / "video"
    embedder = create_embedder(model)
    photos = FaceAnalyzer(Detector(DetectorConfig()), embedder)
    live = FaceAnalyzer(Detector(DetectorConfig(scale=0.5)), embedder)
    ids, rows, names = [], [], {}
    for pid, (folder, name) in enumerate(EXAMPLES.items(), start=1):
        names[name] = pid
        for path in sorted((shared / "photos" / "face_recognition_examples" / folder).iterdir()):
            found = photos.analyze(load_image(path))
            if found:
                rows.append(max(found, key=lambda f: f.detection.area).embedding)
                ids.append(pid)
    clips: dict[str, tuple[list[np.ndarray], float, list[list[tuple[Detection, np.ndarray]]]]] = {}
    for file in [HAMILTON, *WDA]:
        if progress:
            progress(f"tracks: detecting and embedding every frame of {file} (cached after the first run)")
        frames, fps = read_frames(video / file)
        clips[file] = (frames, fps, _detections(video / file, frames, model, use_cache, live))
    for pid, (file, name) in enumerate(WDA.items(), start=len(EXAMPLES) + 1):
        first = clips[file][2][0]
        if not first:
            raise BadInputError(f"{file}: no face in frame 0 to enroll {name} from.")
        names[name] = pid
        rows.append(max(first, key=lambda f: f[0].area)[1])
        ids.append(pid)
    gallery = GallerySnapshot(
        model,
        np.array(ids),
        {v: k for k, v in names.items()},
        np.stack(rows),
        embedder.info.scoring,  # type: ignore[arg-type]
    )
    seqs: list[TrackSequence] = []
    frames, fps, faces = clips[HAMILTON]
    for track_frames, dets, seq in tracks_of(frames, faces, fps):
        seqs.append(_with(seq, HAMILTON, hamilton_truth(track_frames, dets, names)))
    for file, name in WDA.items():
        frames, fps, faces = clips[file]
        seqs += [_with(seq, file, names[name]) for _, _, seq in tracks_of(frames, faces, fps, CLIP_START)]
    return gallery, seqs


def describe(seqs: list[TrackSequence]) -> str:
    """One line per source: tracks and frames (for the report)."""
    by: dict[str, list[int]] = {}
    for s in seqs:
        by.setdefault(s.source, []).append(len(s.embeddings))
    return json.dumps({k: {"tracks": len(v), "frames": sum(v)} for k, v in by.items()})
