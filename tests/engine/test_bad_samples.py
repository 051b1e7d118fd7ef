"""The bad-sample policy through the real Trainer: the fraction counts over the epoch across DataLoader workers, each
skipped file is in log.txt, each epoch ends with a count, and a list over the limit stops the run."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from common.data.annotations import VideoRecord
from common.data.datasets import TooManyBadSamplesError, VideoClipDataset
from common.data.loader import build_loader
from common.data.samplers import TSNSegmentSampler
from common.data.transforms import RandomCrop
from common.engine.bad_samples import BadSampleLedger
from common.engine.batch import ClipPreprocessor
from common.engine.cli import engine_defaults
from common.engine.schedules import LRSchedule, multistep
from common.engine.trainer import Trainer

NUM_CLIPS = 50
SEED = 1


class MeanNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 4)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(clip.mean(dim=(2, 3, 4)))  # [B, 4]


def _records(synthetic_dataset, tmp_path: Path, bad: int) -> list[VideoRecord]:
    """``NUM_CLIPS`` records, ``bad`` of them unreadable files spread through the list."""
    good = synthetic_dataset.records("slowfast_csv", "train")
    records = [good[i % len(good)] for i in range(NUM_CLIPS)]
    for number in range(bad):
        broken = tmp_path / f"broken_{number}.mp4"
        broken.write_bytes(b"\x00" * 64)
        records[number * NUM_CLIPS // bad] = VideoRecord(str(broken), 0, source=f"train.csv:{number + 1}")
    return records


def _fit(records, tmp_path: Path, workers: int, epochs: int = 2, **flags):
    dataset = VideoClipDataset(records, TSNSegmentSampler(2), RandomCrop(16), seed=SEED)
    loader = build_loader(dataset, 5, train=True, num_workers=workers, seed=SEED, rank=0, world_size=1)
    config = engine_defaults(output_dir=str(tmp_path / "run"), epochs=epochs, batch_size=5, workers=workers, seed=SEED,
                             log_every=3, no_progress=True, **flags)
    model = MeanNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    trainer = Trainer(model, optimizer, LRSchedule(multistep(0.01, [10]), 0.01), nn.functional.cross_entropy,
                      loader, config, preprocess=ClipPreprocessor((0.5,) * 3, (0.25,) * 3))
    trainer.logger.echo = False
    return trainer, (tmp_path / "run" / "log.txt")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_four_percent_bad_list_trains_two_epochs_and_logs_every_skipped_file(synthetic_dataset, tmp_path, workers):
    trainer, log = _fit(_records(synthetic_dataset, tmp_path, bad=2), tmp_path, workers)
    result = trainer.fit()
    assert result.status == "finished" and result.epoch == 2
    text = log.read_text()
    for number in range(2):
        assert f"broken_{number}.mp4 (train.csv:{number + 1})" in text  # file, list line and reason in log.txt
    skipped = [line for line in text.splitlines() if "bad sample skipped" in line]
    counts = [line for line in text.splitlines() if "sample loads failed and were replaced" in line]
    assert len(counts) == 2 and "epoch 1: " in counts[0] and "epoch 2: " in counts[1]
    total = sum(int(line.split(": ")[-1].split(" of ")[0]) for line in counts)
    assert total == len(skipped) >= 4  # every bad file of every epoch, each one named


@pytest.mark.parametrize("workers", [0, 2])
def test_a_list_over_the_limit_stops_with_the_files_in_the_log(synthetic_dataset, tmp_path, workers):
    trainer, log = _fit(_records(synthetic_dataset, tmp_path, bad=5), tmp_path, workers, epochs=1)
    with pytest.raises(TooManyBadSamplesError, match=r"sample loads failed in epoch 1 of 50 clips.*"
                                                     r"--max-bad-fraction 0.05.*log.txt"):
        trainer.fit()
    limit = 0.05 * 50 / 0.95  # failures the epoch may have: F / (50 + F) <= 5%
    assert log.read_text().count("bad sample skipped (epoch 1): ") > limit


def test_the_flags_set_the_limit_and_the_retries(synthetic_dataset, tmp_path):
    records = _records(synthetic_dataset, tmp_path, bad=5)
    trainer, _ = _fit(records, tmp_path, 0, epochs=1, max_bad_fraction=0.2, bad_sample_retries=3)
    assert trainer.fit().status == "finished"
    assert trainer.train_loader.dataset.policy.max_retries == 3  # set before the workers started


def _rank_main(rank: int, port: int, out: str) -> None:
    """Rank 0 sees 1 failure, rank 1 sees 2 (in 2 batches) of a 20-clip epoch; then rank 1 sees 2 more."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    lines: list[str] = []
    try:
        ledger = BadSampleLedger(0.1, 3, lines.append, rank=rank, distributed=True)
        ledger.start_epoch(0, None, batches=10, world_size=2)  # 20 clips; limit 0.1 * 20 / 0.9 = 2.2
        ledger.add({"bad_samples": ["", f"r{rank}a.mp4 (list:1): broken"]})
        ledger.add({"bad_samples": ["r1b.mp4 (list:2): broken" if rank else ""]})
        ledger.end_epoch()  # 3 > 2.2: stops on both ranks at the same call
    except Exception as error:  # noqa: BLE001 - reported to the test
        lines.append(f"{type(error).__name__}: {error}")
    finally:
        dist.destroy_process_group()
    Path(out, f"rank{rank}.json").write_text(json.dumps(lines))


def test_two_ranks_count_one_epoch_together(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.start_processes(_rank_main, args=(port, str(tmp_path)), nprocs=2, start_method="spawn")
    main, other = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert main[0] == "bad sample skipped (epoch 1): r0a.mp4 (list:1): broken"
    assert "bad sample skipped on rank 1 (epoch 1): r1a.mp4 (list:1): broken" in main
    assert "bad sample skipped on rank 1 (epoch 1): r1b.mp4 (list:2): broken" in main
    assert main[-1].startswith("TooManyBadSamplesError: 3 sample loads failed in epoch 1 of 20 clips")
    assert other == [main[-1]]  # rank 1 logs nothing itself and stops at the same point
