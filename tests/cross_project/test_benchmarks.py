"""The benchmark scripts' tiny modes run here so they cannot rot, on the registered projects and on a fake project
whose parameter count and FLOPs are known in closed form."""
from __future__ import annotations

import dataclasses
import json
import types

import pytest
import torch
from torch import nn

from benchmarks import environment, loader_speed, model_speed, model_zoo, registry
from benchmarks.environment import format_table
from common.variants import Variant, variant_table

HAVE_TINY_VARIANTS = bool(list(registry.iter_variants(paper=False)))


class PointwiseNet(nn.Module):
    """1x1x1 conv (3 -> 4 channels), global pool, linear head: 16 + 4 * classes + classes parameters."""

    def __init__(self, num_classes: int, attn_backend: str | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, kernel_size=1)
        self.head = nn.Linear(4, num_classes)
        self.attn_backend = attn_backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3, 4)))


def _fake_project(reference_params: int, arch: dict) -> types.ModuleType:
    module = types.ModuleType("fake_project")
    shape = dict(arch=arch, num_classes=5, num_frames=2, input_size=8, source="closed form")
    module.VARIANTS = variant_table(
        Variant("fake_paper", reference_params=reference_params, reference_gflops=(3 * 4 * 2 * 8 * 8 + 4 * 5) / 1e9,
                **shape),
        Variant("fake_tiny", paper=False, **shape))
    module.build_model = lambda variant, num_classes=None, **overrides: PointwiseNet(num_classes or 5, **overrides)
    return module


@pytest.fixture
def fake_registry(monkeypatch):
    def install(reference_params: int = 16 + 4 * 5 + 5, arch: dict | None = None) -> None:
        project = _fake_project(reference_params, {"attn_backend": None} if arch is None else arch)
        monkeypatch.setattr(registry, "implemented_projects", lambda: {"fake": project})
    return install


def test_model_zoo_counts_parameters_and_fvcore_flops_in_closed_form(fake_registry, tmp_path):
    fake_registry()
    assert model_zoo.main(["--out", str(tmp_path)]) == 0
    rows = {row["variant"]: row for row in json.loads((tmp_path / "model_zoo.json").read_text())["rows"]}
    paper = rows["fake_paper"]
    assert paper["params"] == 41 and paper["params_diff_%"] == 0.0 and paper["check"] == "ok"
    # conv 3*4 MACs per voxel over 2x8x8 voxels + linear 4*5 MACs; fvcore skips the mean
    assert paper["gflops"] * 1e9 == pytest.approx(3 * 4 * 2 * 8 * 8 + 4 * 5)
    assert "| fake | fake_paper | 3x2x8x8 |" in (tmp_path / "model_zoo.md").read_text()


def test_model_zoo_flags_a_paper_variant_whose_parameters_differ_from_the_reference(fake_registry, tmp_path, capsys):
    fake_registry(reference_params=50)
    assert model_zoo.main(["--tiny", "--out", str(tmp_path)]) == 1
    assert "MISMATCH fake/fake_paper: 41 parameters, expected 50 (-18.00%)" in capsys.readouterr().err


def test_model_speed_passes_attention_backend_and_reports_models_that_refuse_it(fake_registry, tmp_path):
    fake_registry()
    assert model_speed.main(["--tiny", "--attn-backend", "sdpa", "--out", str(tmp_path)]) == 0
    row = json.loads((tmp_path / "model_speed_cpu.json").read_text())["rows"][0]
    assert row["variant"] == "fake_tiny" and row["train_clips/s"] > 0 and row["infer_clips/s"] > 0
    assert row["train_peak_MiB"] is None or row["train_peak_MiB"] > 0

    fake_registry(arch={})  # the variant table does not declare the option
    assert model_speed.main(["--tiny", "--attn-backend", "sdpa", "--out", str(tmp_path)]) == 1
    row = json.loads((tmp_path / "model_speed_cpu.json").read_text())["rows"][0]
    assert "does not accept attn_backend" in row["error"]


@pytest.mark.skipif(not HAVE_TINY_VARIANTS, reason="no project registers a tiny variant yet")
def test_model_zoo_tiny_mode_on_registered_projects(tmp_path):
    status = model_zoo.main(["--tiny", "--out", str(tmp_path)])
    payload = json.loads((tmp_path / "model_zoo.json").read_text())
    problems = model_zoo.mismatches(payload["rows"])
    assert status == 0 and not problems, "\n".join(problems)
    names = {(row["project"], row["variant"]) for row in payload["rows"]}
    assert names == {(spec.project, spec.variant.name) for spec in registry.iter_variants()}
    assert all(row["gflops"] > 0 for row in payload["rows"] if not row["paper"])
    assert payload["machine"]["torch"] == torch.__version__


@pytest.mark.skipif(not HAVE_TINY_VARIANTS, reason="no project registers a tiny variant yet")
def test_model_speed_tiny_mode_on_registered_projects(tmp_path):
    threads = torch.get_num_threads()
    status = model_speed.main(["--tiny", "--device", "cpu", "--threads", "1", "--out", str(tmp_path)])
    assert torch.get_num_threads() == threads, "model_speed must restore the thread count it changed"
    rows = json.loads((tmp_path / "model_speed_cpu.json").read_text())["rows"]
    errors = [f"{row['project']}/{row['variant']}: {row['error']}" for row in rows if "error" in row]
    assert status == 0 and not errors, "\n".join(errors)
    assert all(row["train_clips/s"] > 0 and row["infer_clips/s"] > 0 for row in rows)
    assert all(row["train_cpu_s"] > 0 and row["infer_cpu_s"] > 0 for row in rows), "CPU seconds per step missing"


def test_loader_speed_tiny_mode_serves_identical_clips_for_every_kind_and_dialect(tmp_path):
    assert loader_speed.main(["--tiny", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "loader_speed.json").read_text())
    combos = {(row["video"], row["dialect"]) for row in payload["rows"]}
    assert combos == {(kind.name, dialect) for kind in loader_speed.VIDEO_KINDS for dialect in loader_speed.DIALECTS}
    assert {row["workers"] for row in payload["rows"]} == {0, 1}
    assert all(row["common_clips/s"] > 0 and row["naive_clips/s"] > 0 for row in payload["rows"])
    training = payload["settings"]["training_loop"]
    if HAVE_TINY_VARIANTS:
        assert 0 < training["data_fraction"] < 1 and training["timed_steps"] >= 1


def test_format_table_aligns_columns_and_marks_missing_cells():
    rows = [{"a": 1, "b": 2.5}, {"a": 10, "b": 0.012345}]
    assert format_table(rows, ["a", "b", "c"]).splitlines() == ["a   b        c", "--  -------  -",
                                                                "1   2.500    -", "10  0.01235  -"]
    assert format_table(rows, ["a", "b"], markdown=True).splitlines()[2] == "| 1 | 2.500 |"


def test_model_zoo_checks_a_documented_deliberate_difference_against_the_project_expectation(fake_registry):
    fake_registry(reference_params=50)
    spec = next(registry.iter_variants(variants=["fake_paper"]))
    spec = dataclasses.replace(spec, variant=dataclasses.replace(spec.variant, params=41))  # e.g. an unused layer
    row = model_zoo.measure_variant(spec, with_flops=False)
    assert row["params_diff_%"] == -18.0 and model_zoo.mismatches([row]) == []
    assert model_zoo.check_label(row) == "ok (documented)"
    spec = dataclasses.replace(spec, variant=dataclasses.replace(spec.variant, params=45))
    assert model_zoo.check_label(model_zoo.measure_variant(spec, with_flops=False)) == "MISMATCH"


def test_tiny_runs_without_out_never_replace_the_committed_results(fake_registry, tmp_path, monkeypatch):
    fake_registry()
    monkeypatch.setattr(environment, "RESULTS_DIR", tmp_path / "committed")
    monkeypatch.setattr(environment, "TINY_RESULTS_DIR", tmp_path / "committed" / "_tiny")
    assert model_zoo.main(["--tiny"]) == 0
    assert [p.name for p in (tmp_path / "committed").iterdir()] == ["_tiny"]
    assert (tmp_path / "committed" / "_tiny" / "model_zoo.json").is_file()
    assert environment.results_dir(None, tiny=False) == tmp_path / "committed"
    assert environment.results_dir(tmp_path / "x", tiny=True) == tmp_path / "x"
