"""``benchmarks.attention_kernels --tiny`` runs in seconds, writes its JSON and markdown, and every implementation
of a scope (kernel backends; whole layer per backend) produces the same output as the scope's baseline."""
from __future__ import annotations

import json

from benchmarks import attention_kernels


def test_tiny_benchmark_writes_results_and_backends_agree(tmp_path):
    attention_kernels.main(["--tiny", "--device", "cpu", "--out", str(tmp_path)])
    payload = json.loads((tmp_path / "attention_kernels_cpu_tiny.json").read_text())
    assert payload["benchmark"] == "attention_kernels" and payload["settings"]["tiny"] is True
    assert "torch" in payload["machine"] and "triton" in payload["settings"]
    rows = payload["rows"]
    assert not [row for row in rows if "error" in row]
    implementations = {(row["scope"], row["impl"]) for row in rows}
    expected = {("stage1", "math"), ("stage1", "sdpa"), ("layer", "ours/math"), ("layer", "ours/sdpa"),
                ("layer", "ours/sdpa+recompute"), ("layer", "ours/sdpa+recompute+fold")}
    assert expected <= implementations
    saved = {row["impl"]: row["saved_MiB"] for row in rows if row["scope"] == "layer" and row["mode"] == "fwd+bwd"}
    assert saved["ours/sdpa+recompute"] < saved["ours/sdpa"] < saved["ours/math"]
    for row in rows:
        assert row["ms"] > 0 and row["max_diff"] < 1e-5, row
        assert (row.get("saved_MiB", 0) > 0) == (row["mode"] == "fwd+bwd"), row
    assert "| stage1 | sdpa |" in (tmp_path / "attention_kernels_cpu_tiny.md").read_text()
