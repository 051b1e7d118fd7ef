"""What every benchmark records and prints: the machine, library versions, settings, a plain-text table, a JSON file.

Results are only comparable when the machine and versions travel with them, so every script writes them through
``write_json`` and prints through ``format_table``.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TINY_RESULTS_DIR = RESULTS_DIR / "_tiny"  # git-ignored: a --tiny try never replaces the committed tables


def results_dir(out: Path | None, tiny: bool) -> Path:
    """Where a benchmark writes: ``--out`` when given, else the committed results (full runs) or ``_tiny``."""
    if out is not None:
        return out
    return TINY_RESULTS_DIR if tiny else RESULTS_DIR


# Dense peak TFLOP/s per device family and precision (vendor data sheets, no sparsity). "fp32" is the TF32 tensor
# core rate: cuDNN runs fp32 convolutions in TF32 by default. First matching substring of the device name wins.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"fp32": 494.7, "bf16": 989.4, "fp16": 989.4}),
    ("H100 PCIe", {"fp32": 378.0, "bf16": 756.0, "fp16": 756.0}),
    ("H100", {"fp32": 494.7, "bf16": 989.4, "fp16": 989.4}),
    ("A100", {"fp32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    ("L40S", {"fp32": 183.0, "bf16": 362.0, "fp16": 362.0}),
    ("RTX 4090", {"fp32": 82.6, "bf16": 165.2, "fp16": 165.2}),
    ("V100", {"fp32": 15.7, "bf16": 0.0, "fp16": 125.0}),
)


def peak_tflops(device_name: str, precision: str) -> float | None:
    """The device's dense peak for ``precision`` (``fp32``/``bf16``/``fp16``; ``off`` means fp32), or None."""
    precision = "fp32" if precision == "off" else precision
    for family, peaks in PEAK_TFLOPS:
        if family in device_name:
            return peaks.get(precision) or None
    return None


def machine_info() -> dict[str, Any]:
    """CPU/GPU model, core count, Python and library versions of this process."""
    import av
    import numpy
    import torch

    cpu_model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu_model,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "av": av.__version__,
        "ffmpeg": ".".join(str(v) for v in av.library_versions.get("libavcodec", ())),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return info


def resolve_device(name: str) -> "torch.device":
    """``auto`` picks CUDA when present; asking for CUDA without a GPU is an error, not a silent CPU run."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: no CUDA device is available on this machine")
    return device


@contextlib.contextmanager
def torch_cpu_settings(threads: int | None = None, flush_denormal: bool = False) -> Iterator[None]:
    """Set torch's CPU thread count and denormal flushing for a benchmark, restoring both afterwards (the scripts'
    ``main`` also runs in-process under pytest)."""
    import torch

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    flushed = flush_denormal and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)
        if flushed:
            torch.set_flush_denormal(False)


def write_json(path: Path, benchmark: str, settings: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """Write ``{benchmark, machine, settings, rows}`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": benchmark, "machine": machine_info(), "settings": settings, "rows": rows}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump(payload, handle, indent=1, default=str)
        handle.write("\n")
    os.replace(handle.name, path)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):  # 3 decimals above 1 keep parameter counts in millions exact to the thousand
        return f"{value:,.3f}" if abs(value) >= 1 else f"{value:.4g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], markdown: bool = False) -> str:
    """Rows as an aligned text table (or a GitHub markdown table); missing cells print as ``-``."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max([len(column)] + [len(row[i]) for row in cells]) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def write_markdown(path: Path, title: str, settings: dict[str, Any], rows: Sequence[dict[str, Any]],
                   columns: Sequence[str], notes: str = "") -> Path:
    """A committed results page: provenance, ``notes`` (how to read it), the table, and any failed rows."""
    info = machine_info()
    body = (f"# {title}\n\n"
            f"Machine: {info['cpu']} ({info['cpu_cores']} cores), GPU: {info['gpu'] or 'none'}; "
            f"Python {info['python']}, torch {info['torch']}, PyAV {info['av']}; {info['date_utc']}.\n"
            f"Settings: `{json.dumps(settings, default=str)}`.\n\n")
    body += (notes.strip() + "\n\n" if notes else "") + format_table(rows, columns, markdown=True) + "\n"
    errors = [f"- {row.get('project', '')}/{row.get('variant', '')}: {row['error']}" for row in rows if "error" in row]
    if errors:
        body += "\nFailed:\n" + "\n".join(errors) + "\n"
    Path(path).write_text(body)
    return Path(path)
