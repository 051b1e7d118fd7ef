"""Slurm launch helpers that need no torch (so the sbatch template can call them quickly).

``python -m common.slurm first-host NODELIST`` prints the first host of a Slurm node list; the sbatch
template uses it for the rendezvous address because ``scontrol`` is not always installed on compute nodes.
:func:`slurm_env_to_torch_env` is what :func:`common.distributed.init_distributed` uses for ``srun``-per-GPU jobs.
"""
from __future__ import annotations

import argparse
import re


def expand_nodelist(nodelist: str) -> list[str]:
    """Expand a Slurm node list such as ``gpu[01-03,07],cpu5`` into host names, as ``scontrol show hostnames``."""
    hosts: list[str] = []
    for match in re.finditer(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist):
        prefix, ranges = match.group(1), match.group(2)
        if ranges is None:
            hosts.append(prefix)
            continue
        for part in ranges.split(","):
            if "-" in part:
                start, end = part.split("-")
                hosts.extend(f"{prefix}{number:0{len(start)}d}" for number in range(int(start), int(end) + 1))
            else:
                hosts.append(prefix + part)
    if not hosts:
        raise ValueError(f"cannot parse Slurm node list {nodelist!r}")
    return hosts


def slurm_env_to_torch_env(environ: dict[str, str]) -> dict[str, str]:
    """The torchrun variables implied by a Slurm task environment (one task per GPU).

    ``MASTER_ADDR`` / ``MASTER_PORT`` already present in ``environ`` win; otherwise the first host of
    ``SLURM_JOB_NODELIST`` and a port in [15000, 25000) derived from ``SLURM_JOB_ID`` (so concurrent jobs on one
    node do not collide) are used.
    """
    missing = [key for key in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_NODELIST") if key not in environ]
    if missing:
        raise KeyError(f"Slurm launch needs {', '.join(missing)} in the environment")
    job_id = int(environ.get("SLURM_JOB_ID", "0"))
    return {
        "RANK": environ["SLURM_PROCID"],
        "WORLD_SIZE": environ["SLURM_NTASKS"],
        "LOCAL_RANK": environ.get("SLURM_LOCALID", "0"),
        "MASTER_ADDR": environ.get("MASTER_ADDR") or expand_nodelist(environ["SLURM_JOB_NODELIST"])[0],
        "MASTER_PORT": environ.get("MASTER_PORT") or str(15000 + job_id % 10000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m common.slurm", description="Slurm launch helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    first = sub.add_parser("first-host", help="print the first host of a Slurm node list")
    first.add_argument("nodelist", help="e.g. gpu[01-04,07]")
    args = parser.parse_args()
    if args.command == "first-host":
        print(expand_nodelist(args.nodelist)[0])


if __name__ == "__main__":
    main()
