"""Regression checks on small clips for every registered project's tiny (non-paper) variants.

    python -m ci.regression            # check every tiny variant against ci/golden/, and that training lowers the loss
    python -m ci.regression --bless    # re-write the golden files on purpose after an intended model change

A golden file ``ci/golden/<project>__<variant>.json`` holds, for a seeded build of the variant on a fixed clip:
the logits with the project's own initialisation (catches init changes), the logits after a fixed perturbation of
every parameter (catches forward changes even where a head is zero-initialised), and the parameter count and a hash
of the state-dict keys and shapes (catches renames that would break the reference-checkpoint converters).
``ci/test_regression.py`` runs the same checks under pytest.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from benchmarks.registry import VariantSpec, classification_loss, example_clip, iter_variants
from common.data.synthetic import make_synthetic_dataset
from common.data.video_reader import VideoReader

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
INIT_SEED = 0
CLIP_SEED = 1234
GOLDEN_BATCH = 2
RELATIVE_TOLERANCE = 1e-3  # of the largest golden |logit|: float noise across CPUs is ~1e-6, a model change ~1e-1
PERTURBATION_SCALE = 0.02
TRAIN_STEPS = 6
TRAIN_BATCH = 4


@contextlib.contextmanager
def deterministic(threads: int = 1) -> Iterator[None]:
    """One thread and deterministic kernels, so results are identical from run to run on one machine."""
    previous_threads = torch.get_num_threads()
    previous_mode = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_mode)


def golden_path(spec: VariantSpec, golden_dir: Path = GOLDEN_DIR) -> Path:
    return Path(golden_dir) / f"{spec.project}__{spec.variant.name}.json"


def _as_arrays(output: torch.Tensor | dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    if isinstance(output, dict):
        return {name: value.detach().double().numpy() for name, value in sorted(output.items())}
    return {"logits": output.detach().double().numpy()}


def state_dict_signature(model: torch.nn.Module) -> str:
    """sha1 over ``name:shape`` of every state-dict entry; stable under value changes, not under renames."""
    lines = [f"{name}:{tuple(value.shape)}" for name, value in model.state_dict().items()]
    return hashlib.sha1("\n".join(lines).encode()).hexdigest()


def perturb_parameters(model: torch.nn.Module, scale: float = PERTURBATION_SCALE) -> None:
    """Add fixed noise to every parameter, seeded by its name so it does not depend on module order."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))


def compute_record(spec: VariantSpec) -> dict[str, Any]:
    """Everything a golden file stores for one variant, computed deterministically on CPU."""
    with deterministic():
        torch.manual_seed(INIT_SEED)
        model = spec.build().eval()
        clip = example_clip(spec.input_shape, batch=GOLDEN_BATCH, seed=CLIP_SEED)
        with torch.no_grad():
            init_outputs = _as_arrays(model(clip))
            perturb_parameters(model)
            perturbed_outputs = _as_arrays(model(clip))
    return {
        "project": spec.project,
        "variant": spec.variant.name,
        "input_shape": list(spec.input_shape),
        "batch": GOLDEN_BATCH,
        "init_seed": INIT_SEED,
        "clip_seed": CLIP_SEED,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "state_dict_signature": state_dict_signature(model),
        "init": {name: value.tolist() for name, value in init_outputs.items()},
        "perturbed": {name: value.tolist() for name, value in perturbed_outputs.items()},
        "blessed_with": {"torch": torch.__version__},
    }


def bless(spec: VariantSpec, golden_dir: Path = GOLDEN_DIR) -> Path:
    """Write the variant's golden file atomically."""
    path = golden_path(spec, golden_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    record = compute_record(spec)
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in record.items()]  # one line per field
    temporary.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    os.replace(temporary, path)
    return path


def _compare_outputs(kind: str, ours: dict[str, list], golden: dict[str, list]) -> list[str]:
    problems = []
    if sorted(ours) != sorted(golden):
        return [f"{kind} outputs have heads {sorted(ours)}, golden has {sorted(golden)}"]
    for head in golden:
        expected, actual = np.asarray(golden[head]), np.asarray(ours[head])
        if expected.shape != actual.shape:
            problems.append(f"{kind} {head} shape {actual.shape} != golden {expected.shape}")
            continue
        if not np.isfinite(actual).all():
            problems.append(f"{kind} {head} has non-finite values")
            continue
        tolerance = RELATIVE_TOLERANCE * max(float(np.abs(expected).max()), 1e-6)
        difference = float(np.abs(actual - expected).max())
        if difference > tolerance:
            problems.append(f"{kind} {head} differ: max |diff| {difference:.3g} > tolerance {tolerance:.3g}")
    return problems


def check(spec: VariantSpec, golden_dir: Path = GOLDEN_DIR) -> list[str]:
    """Differences from the golden file, each message naming the project, variant and file; [] when it matches."""
    path = golden_path(spec, golden_dir)
    prefix = f"{spec.name}: "
    if not path.exists():
        return [prefix + f"no golden file {path}; run `make bless` (python -m ci.regression --bless) and commit it"]
    golden = json.loads(path.read_text())
    ours = compute_record(spec)
    problems = []
    for key in ("input_shape", "batch", "num_parameters", "state_dict_signature"):
        if ours[key] != golden.get(key):
            problems.append(f"{key} {ours[key]} != golden {golden.get(key)}")
    problems += _compare_outputs("initial logits", ours["init"], golden["init"])
    problems += _compare_outputs("perturbed-weight logits", ours["perturbed"], golden["perturbed"])
    hint = f" (golden file {path}; if the change is intended, run `make bless` and commit the file)"
    return [prefix + problem + hint for problem in problems]


@functools.lru_cache(maxsize=8)
def generated_batch(shape: tuple[int, int, int, int], num_classes: int, batch: int = TRAIN_BATCH
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` decoded clips of `common.data.synthetic` (one per motion class), normalised ``float [B, C, T, H, W]``,
    and their labels (wrapped into ``num_classes``)."""
    channels, frames, height, width = shape
    with tempfile.TemporaryDirectory(prefix="ci_regression_") as root:
        dataset = make_synthetic_dataset(root, num_classes=batch, videos_per_class=1, num_frames=frames,
                                         height=height + height % 2, width=width + width % 2, formats=("mp4",),
                                         val_fraction=0.0, seed=CLIP_SEED)
        clips = []
        for video in dataset.videos:
            with VideoReader(dataset.video_path(video.video_id)) as reader:
                clips.append(reader.read(np.arange(frames))[:, :height, :width, :channels])  # uint8 [T, H, W, C]
        labels = torch.tensor([video.label for video in dataset.videos]) % num_classes
    clip_batch = torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3).float()  # [B, C, T, H, W]
    return (clip_batch / 255.0 - 0.45) / 0.225, labels


def training_losses(spec: VariantSpec, steps: int = TRAIN_STEPS) -> list[float]:
    """Losses of a seeded few-step AdamW run on one fixed batch of generated, decoded motion clips."""
    with deterministic():
        torch.manual_seed(INIT_SEED)
        model = spec.build().train()
        clips, labels = generated_batch(spec.input_shape, spec.num_classes)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        losses = []
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = classification_loss(model(clips), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def check_training(spec: VariantSpec, steps: int = TRAIN_STEPS) -> list[str]:
    """[] when the loss is finite and the mean of the last two steps is below the mean of the first two."""
    losses = training_losses(spec, steps)
    shown = ", ".join(f"{loss:.4f}" for loss in losses)
    if not all(np.isfinite(losses)):
        return [f"{spec.name}: non-finite training loss: {shown}"]
    if np.mean(losses[-2:]) >= np.mean(losses[:2]):
        return [f"{spec.name}: loss did not fall over {steps} steps on a fixed batch: {shown}"]
    return []


def stale_golden_files(golden_dir: Path = GOLDEN_DIR) -> list[Path]:
    """Golden files whose project/variant is no longer a registered tiny variant."""
    expected = {golden_path(spec, golden_dir).name for spec in iter_variants(paper=False)}
    return sorted(path for path in Path(golden_dir).glob("*.json") if path.name not in expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.regression", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bless", action="store_true", help="re-write the golden files instead of checking them")
    parser.add_argument("--projects", nargs="*", help="restrict to these projects")
    parser.add_argument("--variants", nargs="*", help="restrict to these variant names")
    parser.add_argument("--golden-dir", type=Path, default=GOLDEN_DIR, help="where golden files live")
    parser.add_argument("--skip-training", action="store_true", help="only compare against the golden files")
    args = parser.parse_args(argv)
    specs = list(iter_variants(args.projects, args.variants, paper=False))
    if not specs:
        raise SystemExit("no registered tiny (paper=False) variant matches the filters")
    failures = []
    for spec in specs:
        if args.bless:
            print(f"blessed {spec.name} -> {bless(spec, args.golden_dir)}")
            continue
        problems = check(spec, args.golden_dir) + ([] if args.skip_training else check_training(spec))
        print(f"{'FAIL' if problems else 'ok  '} {spec.name}")
        failures += problems
    if not args.projects and not args.variants:
        for path in stale_golden_files(args.golden_dir):
            print(f"stale golden file (no registered tiny variant): {path}")
    for problem in failures:
        print(problem, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
