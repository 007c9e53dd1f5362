"""What a live track leaves behind when it ends: the contract between the live workers and the unknown-faces review.

The live workers (core.live.RecognitionWorker, core.pipeline.PipelineWorker) hand a TrackSummary to the sink set with
`set_track_sink` when a track ends for good (lost, scene cut, model or gallery switch, worker stop), from the worker
thread. A sink must be quick and must not raise; the workers log and drop a sink's exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from faceapp.core.types import FaceSample


@dataclass(frozen=True)
class TrackSummary:
    """A live track that has ended: who its evidence settled on, and its best frames (best first, 1 to 5 of them)."""

    track_id: int
    first_seen: float  # wall-clock time (time.time()) of its first frame
    last_seen: float  # and of its last
    person_id: int | None  # the person the track's evidence named; None when it stayed Unknown
    model: str  # the embedder the embeddings come from
    embeddings: np.ndarray = field(compare=False, repr=False)  # (n, dim) float32, unit length
    samples: tuple[FaceSample, ...] = field(compare=False, repr=False)  # the same frames as gallery-style crops
    qualities: tuple[float, ...] = ()  # the same frames' quality in [0, 1], higher is better

    def __post_init__(self) -> None:
        n = len(self.embeddings)
        if not 1 <= n <= 5 or len(self.samples) != n or len(self.qualities) != n:
            raise ValueError(f"a track summary holds 1 to 5 frames, each with a sample and a quality (got {n})")


TrackSink = Callable[[TrackSummary], None]
