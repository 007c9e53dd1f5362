"""Tracks between full detections (issue 12 items 1-2): re-location, confirmation, and when a face is re-embedded."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core import tracking
from faceapp.core.tracking import Track, TrackSet, pose_change, size_ratio
from faceapp.core.types import Detection
from tests.fakes import detection


def test_moving_or_scaling_a_face_is_no_pose_change_but_turning_it_is() -> None:
    face = detection(20, 20, 84, 84)
    moved = face.shifted(37, -11)
    scaled = face.shifted(5, 5, scale=1.5)
    assert pose_change(face, moved) < 1e-9
    assert pose_change(face, scaled) < 1e-9
    turned_points = face.landmarks.copy()
    turned_points[2, 0] += 8  # the nose swings towards one side: the face turned
    turned = Detection(face.box, face.score, turned_points)
    assert pose_change(face, turned) > tracking.POSE_CHANGE
    assert size_ratio(face, scaled) == pytest.approx(1.5)


def test_a_track_is_embedded_again_only_when_new_resized_turned_or_old() -> None:
    face = detection(20, 20, 84, 84)
    track = Track(1, face, 0)
    assert track.needs_embedding(now=0.0)  # new
    track.embedding, track.embedded, track.embedded_at = np.ones(4), face, 0.0
    track.detection = face.shifted(30, 12)
    assert not track.needs_embedding(now=tracking.MAX_AGE_S / 2)  # moved only: alignment removes position
    track.detection = face.shifted(0, 0, scale=1.3)
    assert track.needs_embedding(now=tracking.MAX_AGE_S / 2)  # grew
    track.detection = face
    assert track.needs_embedding(now=tracking.MAX_AGE_S + 0.01)  # aged
    track.requested = True
    assert not track.needs_embedding(now=10.0)  # one request at a time


def test_relocation_follows_a_face_and_loses_it_after_a_few_frames() -> None:
    tracks = TrackSet(max_missed=2)
    [new] = tracks.merge([detection(20, 20, 84, 84)], frame_index=0)
    image = np.zeros((120, 160, 3), np.uint8)
    assert tracks.relocate(image, lambda img, box: [detection(24, 22, 88, 86)], 1)
    assert new.detection.box == (24, 22, 88, 86)
    assert [t.track_id for t in tracks.visible(1)] == [new.track_id]
    for frame in (2, 3):
        assert tracks.relocate(image, lambda img, box: [], frame)  # missed, not yet lost
        assert tracks.visible(frame) == []
    assert not tracks.relocate(image, lambda img, box: [], 4)  # lost: a full pass is due
    assert tracks.tracks == {}


def test_a_box_is_shown_only_over_the_frame_it_was_found_in() -> None:
    """Issue 16's shifted box: a full pass on frame 20 started a track that was reported on frame 26 (a frame
    reported again) with frame 20's box, over the hair of a head that had turned. Its box is shown over frame 20
    only; on a later frame it is looked for first, once per frame, and shown where it was found."""
    tracks = TrackSet(max_missed=3)
    [old] = tracks.merge([detection(20, 20, 84, 84)], 10)
    image = np.zeros((120, 160, 3), np.uint8)
    calls: list[tuple[float, ...]] = []

    def find(img: np.ndarray, box: tuple[float, ...]) -> list:
        calls.append(box)
        return [detection(box[0] + 4, box[1], box[2] + 4, box[3])]

    assert tracks.relocate(image, find, 26)
    # The full pass's faces, of frame 20: the old one (confirmed) and a new one.
    [walk_in] = tracks.merge([detection(20, 20, 84, 84), detection(100, 10, 150, 60)], 20)
    assert [t.track_id for t in tracks.visible(20)] == [walk_in.track_id]  # the old one's box is of frame 26
    assert [t.track_id for t in tracks.visible(26)] == [old.track_id]  # not yet looked for in frame 26
    assert tracks.relocate(image, find, 26)  # frame 26 again: only the new track is looked for
    assert calls == [(20, 20, 84, 84), (100, 10, 150, 60)]
    assert walk_in.detection.box == (104, 10, 154, 60)
    assert {t.track_id for t in tracks.visible(26)} == {old.track_id, walk_in.track_id}
    assert tracks.relocate(image, lambda img, box: [], 26)  # nothing looked for a third time: no miss counted
    assert old.missed == walk_in.missed == 0
    [late] = tracks.merge([old.detection, walk_in.detection, detection(100, 80, 140, 118)], 25)
    assert tracks.relocate(image, lambda img, box: [], 26)  # not found in frame 26: not shown there
    assert late.missed == 1
    assert late.track_id not in {t.track_id for t in tracks.visible(26)}


def test_full_detections_confirm_tracks_start_new_ones_and_drop_unconfirmed_ones() -> None:
    tracks = TrackSet(max_unconfirmed=2)
    [a] = tracks.merge([detection(20, 20, 84, 84)], 0)
    assert tracks.merge([detection(22, 21, 86, 85)], 5) == []  # the same face: confirmed, no new track
    [b] = tracks.merge([detection(22, 21, 86, 85), detection(100, 10, 150, 60)], 10)
    assert b.track_id != a.track_id
    assert b.first_frame == 10
    tracks.merge([detection(100, 10, 150, 60)], 15)  # a not seen once: kept
    assert a.track_id in tracks.tracks
    tracks.merge([detection(100, 10, 150, 60)], 20)  # twice: a drifted or departed track, dropped
    assert list(tracks.tracks) == [b.track_id]


def test_votes_steady_a_track_label() -> None:
    track = Track(1, detection(0, 0, 50, 50), 0)
    for pid in (5, 5, 6, 5):
        verdict = track.vote(pid, 0.1 if pid == 5 else 0.05, 0.9)
    assert verdict[0] == 5
