"""`faceapp bench stations` on a temporary SQLite gallery: its figures are measured, and meet the issue's targets."""

from __future__ import annotations

import json
from pathlib import Path

from faceapp.bench import stations


def test_the_stations_bench_measures_propagation_and_concurrent_enrollments(tmp_path: Path) -> None:
    out = tmp_path / "stations.json"
    assert stations.main(["--rounds", "3", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rounds"] == 3
    assert 0 < result["propagation_p50_s"] <= result["propagation_max_s"] < 1.0
    assert result["concurrent_4x5"] == {**result["concurrent_4x5"], "committed": 20, "errors": [], "samples": 20}
    assert result["concurrent_4x5"]["people"] == 11
    assert result["concurrent_4x5"]["duplicate_names"] == 0
    assert result["concurrent_4x5"]["integrity_problems"] == []
