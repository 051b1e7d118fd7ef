"""benchmarks.multigrid_speed in tiny mode: every run trains, multigrid covers 1.5x the epochs in fewer steps."""
from __future__ import annotations

import json

from benchmarks import multigrid_speed


def test_multigrid_speed_tiny_mode(tmp_path):
    assert multigrid_speed.main(["--tiny", "--out", str(tmp_path)]) == 0
    rows = {row["run"]: row for row in json.loads((tmp_path / "multigrid_cpu.json").read_text())["rows"]}
    assert set(rows) == {"baseline", "long+short", "long", "short"}
    assert rows["baseline"]["epochs"] == 4 and all(rows[name]["epochs"] == 6 for name in ("long+short", "long", "short"))
    assert max(rows[name]["steps"] for name in ("long+short", "long", "short")) < rows["baseline"]["steps"]
    assert all(row["steps"] > 0 and row["wall_s"] > 0 for row in rows.values())
    assert rows["baseline"]["speedup"] == 1.0
    assert "speedup" in (tmp_path / "multigrid_cpu.md").read_text()
