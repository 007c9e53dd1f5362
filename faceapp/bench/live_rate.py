"""Live-rate figures (issue 12): recognized frames per second, the share of source frames with a fresh label, the
time from a face's first frame to its name, and the face_recognition library's webcam loop as a peer row.

A face's first frame is the start of a truth span when a truth file is given, else the first frame of each shot
(the clip's start and every scene cut: new faces, new tracks). Its name is shown when the first result of a frame in
that span or shot that names someone is reported; the time between is wall time, capture to report, so it counts
waiting for a detection pass, the passes themselves and the embedding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from faceapp.core.live import FrameResult
from faceapp.core.types import MatchRule
from faceapp.core.video import CaptureThread, Frame, FrameSource, LatestFrameMailbox
from faceapp.errors import FaceAppError

PEER_VARIANTS = ("every", "faster")  # face_recognition's facerec_from_webcam.py and facerec_from_webcam_faster.py


class _Span(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def name(self) -> str: ...


class _Worker(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


@dataclass
class Played:
    """One real-time play of a clip: each result with the time it was reported, each frame's capture time."""

    fps: float
    elapsed: float = 0.0
    results: list[FrameResult] = field(default_factory=list)
    reported: list[float] = field(default_factory=list)
    captured: dict[int, float] = field(default_factory=dict)
    shots: list[int] = field(default_factory=list)  # first frames of shots (0 and every scene cut)


def play(
    source: Path, make_worker: Callable[[LatestFrameMailbox[Frame], Callable[[FrameResult], None]], Any]
) -> Played:
    """Play `source` in real time through the app's capture thread and mailbox into the worker `make_worker` makes."""
    frames = FrameSource(str(source))
    frames.open()
    first = frames.read()
    frames.rewind()
    played = Played(frames.fps)
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    lock = threading.Lock()
    last: list[int] = []

    def keep(result: FrameResult) -> None:
        with lock:  # without its pixels: a clip's worth of frames would swamp the resident-set figure
            played.results.append(replace(result, image=None))
            played.reported.append(time.monotonic())

    def on_frame(frame: Frame) -> None:
        if not last or frame.scene != last[0]:  # the capture thread numbers scenes already
            played.shots.append(frame.index)
        last[:] = [frame.scene]
        played.captured[frame.index] = frame.timestamp
        mailbox.put(frame)

    worker = make_worker(mailbox, keep)
    if first is not None and hasattr(worker, "warm"):
        worker.warm(first)  # a detector's first pass at a new size costs about a second more than later ones
    capture = CaptureThread(frames, on_frame, loop=False)
    worker.start()
    start = time.monotonic()
    capture.start()
    while not capture.finished.wait(2.0):
        print(f"playing: {len(played.captured)} frames, {len(played.results)} recognised", file=sys.stderr, flush=True)
    played.elapsed = time.monotonic() - start
    time.sleep(0.3)  # the last frame's result
    worker.stop()
    worker.join(timeout=5)
    return played


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not len(values):
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)), "n": len(values)}


def time_to_name(
    named: Sequence[tuple[int, float, Sequence[str]]],
    captured: dict[int, float],
    events: Sequence[tuple[int, int, str | None]],
) -> dict[str, object]:
    """Seconds from each event's first frame to the first report of a frame in it naming its person (any person
    when None): `named` is (frame index, report time, names) per report; events never named are counted apart."""
    waits, missed = [], 0
    for start, end, person in events:
        if start not in captured:
            continue
        hits = [t for i, t, names in named if start <= i <= end and (person in names if person else names)]
        if hits:
            waits.append(min(hits) - captured[start])
        else:
            missed += 1
    return {"s": _percentiles(waits), "never_named": missed}


def _events(played_shots: list[int], last: int, truth: Sequence[_Span] | None) -> list[tuple[int, int, str | None]]:
    if truth:
        return [(s.start, s.end, s.name) for s in truth]
    ends = [*played_shots[1:], last + 1]
    return [(a, b - 1, None) for a, b in zip(played_shots, ends, strict=True)]


def figures(played: Played, rule: MatchRule, truth: Sequence[_Span] | None) -> dict[str, object]:
    """The live-rate figures of one play of our pipeline."""
    named = [
        (r.frame_index, t, [str(f.name) for f in r.faces if f.accepted(rule)])
        for r, t in zip(played.results, played.reported, strict=True)
    ]
    last = max(played.captured, default=0)
    firsts = [(r, t) for r, t in zip(played.results, played.reported, strict=True) if "again" not in r.timings]
    latency = [(t - played.captured[r.frame_index]) * 1e3 for r, t in firsts]
    return {
        "source_fps": played.fps,
        "frames": len(played.captured),
        "fresh_label_share": len({r.frame_index for r in played.results}) / max(len(played.captured), 1),
        "capture_to_report_ms": _percentiles(latency),
        "time_to_name": time_to_name(named, played.captured, _events(played.shots, last, truth)),
        "dropped_frames": len(played.captured) - len(firsts),
        "recognition_fps": len(firsts) / played.elapsed if played.elapsed else 0.0,  # a frame reported again: once
    }


def load() -> str:
    """The machine's 1-minute load average now (the machine is shared: figures need it beside them)."""
    return f"{os.getloadavg()[0]:.2f}"


def peer(
    python: str, source: Path, enroll: dict[str, list[Path]], variant: str, truth: Sequence[_Span] | None
) -> dict[str, object]:
    """face_recognition's documented webcam loop on `source` in real time, in the environment of `python` (it is
    never a dependency of faceapp): the same figures as ours."""
    script = Path(__file__).with_name("peer_face_recognition.py")
    args = [python, str(script), "--source", str(source), "--variant", variant]
    for name, images in enroll.items():
        args += [arg for image in images for arg in ("--enroll", f"{name}={image}")]
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise FaceAppError(f"the face_recognition peer failed under {python}: {tail}")
    raw = json.loads(done.stdout)
    captured = {int(k): float(v) for k, v in raw["captured"].items()}
    named = [(int(i), float(t), list(n)) for i, t, n in raw["results"]]
    shots = [int(i) for i in raw["shots"]]
    last = max(captured, default=0)
    faces = sum(int(c) for c in raw["faces"])
    return {
        "pipeline": f"face_recognition {variant}",
        "load": load(),
        "source_fps": raw["fps"],
        "frames": len(captured),
        "recognitions": len(named),
        "recognition_fps": len(named) / raw["elapsed"] if raw["elapsed"] else 0.0,
        "fresh_label_share": len({i for i, _, _ in named}) / max(len(captured), 1),
        "capture_to_report_ms": _percentiles([(t - captured[i]) * 1e3 for i, t, _ in named]),
        "time_to_name": time_to_name(named, captured, _events(shots, last, truth)),
        "face_frames": faces,
        "labelled_share": sum(len(n) for _, _, n in named) / faces if faces else 0.0,
        "latency_ms": {"total": _percentiles([float(v) for v in raw["process_ms"]])},
    }


def _ms(stages: Any, key: str) -> str:
    value = stages.get(key) if isinstance(stages, dict) else None
    if not value or not value.get("n", 1) or np.isnan(value["p50"]):
        return "-"
    return f"{value['p50']:.1f} / {value['p95']:.1f}"


def table(variants: dict[str, dict[str, object]]) -> list[str]:
    """The variants side by side, one column each."""
    names = list(variants)
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("1-min load average", lambda v: str(v.get("load", "-"))),
        ("recognized frames/s", lambda v: f"{v['recognition_fps']:.1f}"),
        ("source frames with a fresh label", lambda v: f"{100 * v['fresh_label_share']:.1f}%"),
        ("first frame to name p50 / p95 ms", lambda v: _tt(v)),
        ("faces named, never named", lambda v: str(v["time_to_name"]["never_named"])),
        ("capture to report p50 / p95 ms", lambda v: _ms({"x": v.get("capture_to_report_ms")}, "x")),
        ("faces labelled", lambda v: f"{100 * v.get('labelled_share', 0):.1f}% of {v.get('face_frames', 0)}"),
        ("label changes per track", lambda v: _num(v.get("label_changes_per_track"))),
        ("faces re-embedded", lambda v: _pct(v.get("embedded_share"))),
    ]
    rows.append(("reported again (a stage ended between frames)", lambda v: str(v.get("reported_again", "-"))))
    for stage in (
        "detect",
        "detect_cpu",
        "walk_in_embed",
        "track",
        "embed",
        "embed_cpu",
        "match",
        "total",
        "total_cpu",
    ):
        rows.append((f"{stage} p50 / p95 ms", _stage_cell(stage)))
    width = max(len(label) for label, _ in rows)
    lines = [" " * width + "  " + "  ".join(f"{n:>22}" for n in names)]
    for label, cell in rows:
        lines.append(f"{label:<{width}}  " + "  ".join(f"{cell(variants[n]):>22}" for n in names))
    return lines


def _stage_cell(stage: str) -> Callable[[dict[str, Any]], str]:
    def cell(v: dict[str, Any]) -> str:
        return _ms(v.get("latency_ms"), stage)

    return cell


def _tt(v: dict[str, Any]) -> str:
    s = v["time_to_name"]["s"]
    return "-" if not s["n"] else f"{1e3 * s['p50']:.0f} / {1e3 * s['p95']:.0f} (n {s['n']})"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


CLIP_PEOPLE = (
    ("Alexandria Ocasio-Cortez", "WDA_AlexandriaOcasioCortez_000.mp4"),
    ("Katie Hill", "WDA_KatieHill_000.mp4"),
)


def make_clips(out: Path, videos: Path | None = None) -> list[str]:
    """The synthetic 640x480 30 fps clips of the live-rate targets, from the shared talking-head clips, with truth
    files and one enrollment frame per person (frame 0; the clips use frames 40 on). Each shot starts after 10
    black frames, so a face walks in at every shot. Returns lines naming what was written."""
    import cv2

    videos = videos or Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video"
    clips = {}
    for name, file in CLIP_PEOPLE:
        cap = cv2.VideoCapture(str(videos / file))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        if len(frames) < 100:
            raise FaceAppError(f"{videos / file} is missing or too short (the shared clips: ../shared/data/video).")
        clips[name] = frames
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, frames in clips.items():
        path = out / f"enroll-{name.replace(' ', '_')}.png"
        cv2.imwrite(str(path), frames[0])
        lines.append(f'--enroll "{name}={path}"')

    def fit(frame: np.ndarray, w: int, h: int, mirror: bool = False) -> np.ndarray:
        s = min(w / frame.shape[1], h / frame.shape[0])
        small = cv2.resize(frame, (round(frame.shape[1] * s), round(frame.shape[0] * s)), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((h, w, 3), np.uint8)
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small[:, ::-1] if mirror else small
        return canvas

    people = list(clips)
    one: list[np.ndarray] = []
    truth_one = []
    for k in range(8):  # 8 shots of 60 frames, the two people in turn
        name = people[k % 2]
        one += [np.zeros((480, 640, 3), np.uint8)] * 10
        start = len(one)
        offset = 40 + (k // 2) * 30
        one += [fit(f, 640, 480) for f in clips[name][offset : offset + 60]]
        truth_one.append((start, len(one) - 1, name))
    three: list[np.ndarray] = []
    truth_three = []
    for k in range(3):  # 3 shots of 70 frames: both people and the first one mirrored, in a 2x2 grid
        three += [np.zeros((480, 640, 3), np.uint8)] * 10
        start = len(three)
        offset = 40 + k * 40
        for i in range(70):
            canvas = np.zeros((480, 640, 3), np.uint8)
            canvas[:240, :320] = fit(clips[people[0]][offset + i], 320, 240)
            canvas[:240, 320:] = fit(clips[people[1]][offset + i], 320, 240)
            canvas[240:, 160:480] = fit(clips[people[0]][offset + 40 - i // 2], 320, 240, mirror=True)
            three.append(canvas)
        truth_three += [(start, len(three) - 1, people[0]), (start, len(three) - 1, people[1])]
    for stem, frames, truth in (("one_face", one, truth_one), ("three_faces", three, truth_three)):
        path = out / f"{stem}_640x480.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (640, 480))
        for frame in frames:
            writer.write(frame)
        writer.release()
        (out / f"{stem}_640x480.truth.csv").write_text(
            "start_frame,end_frame,name\n" + "".join(f"{a},{b},{n}\n" for a, b, n in truth), encoding="utf-8"
        )
        lines.append(f"{path} ({len(frames)} frames, truth {stem}_640x480.truth.csv)")
    return lines


def drift(source: Path, analyzer: Any, frames: int = 60) -> dict[str, object]:
    """Issue 12 item 1: how far a tracked face's embedding is from a full detection's of the same frame.

    The first face of the first frame is followed by re-location alone (no full pass after the first), frame by
    frame; in every frame the embedding from the followed detection is compared with the one from that frame's full
    pass (d, squared L2 of unit vectors), beside the full pass's own frame-to-frame change."""
    from faceapp.core.pipeline import own_threads

    own_threads(1)  # as the live stages run; torch's default spins its second thread on a busy machine
    reader = FrameSource(str(source))
    reader.open()
    near = analyzer.detector.twin()
    box = None
    tracked, jitter = [], []
    previous = None
    try:
        for _ in range(frames):
            image = reader.read()
            if image is None:
                break
            full = analyzer.detector.detect(image)
            if not full:
                box = None
                continue
            if box is None:
                box = full[0].box
            found = near.detect_near(image, [box])[0]
            if not found:
                box = None
                continue
            followed = max(found, key=lambda d: d.area)
            box = followed.box
            target = min(full, key=lambda d: abs(d.box[0] - box[0]) + abs(d.box[1] - box[1]))
            a, b = (f.embedding for f in analyzer.embed(image, [target, followed]))
            tracked.append(float(((a - b) ** 2).sum()))
            if previous is not None:
                jitter.append(float(((a - previous) ** 2).sum()))
            previous = a
    finally:
        reader.close()
    return {"tracked_vs_full": _percentiles(tracked), "full_frame_to_frame": _percentiles(jitter)}
