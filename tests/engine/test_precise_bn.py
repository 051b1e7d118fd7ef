"""Precise BN: the recomputed statistics are the batch-averaged batch statistics, frozen layers stay, modes and
momenta are restored, and two gloo ranks end with the average of their statistics."""
from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from common.engine.batch import ClipPreprocessor
from common.engine.precise_bn import clip_inputs, update_bn_stats


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4), nn.ReLU(), nn.Conv3d(4, 5, 1), nn.BatchNorm3d(5))


def _batches(seed: int, count: int = 3) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 2, 3, 3, generator=generator) * (i + 1) + i for i in range(count)]


def _expected_stats(model: nn.Sequential, batches: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Batch-averaged mean and unbiased variance of the inputs of both BN layers, computed directly."""
    stats = []
    for bn_index, prefix in ((1, model[:1]), (4, model[:4])):
        with torch.no_grad():
            features = [prefix.train()(x).transpose(0, 1).flatten(1) for x in batches]  # [C, N*T*H*W] each
        stats.append(torch.stack([f.mean(1) for f in features]).mean(0))
        stats.append(torch.stack([f.var(1, unbiased=True) for f in features]).mean(0))
    return tuple(stats)


def test_statistics_are_the_average_of_batch_statistics() -> None:
    model = _model()
    model[1].momentum = 0.3
    model.eval()
    batches = _batches(0)
    expected = _expected_stats(_model(), batches)
    assert update_bn_stats(model, iter(batches), num_batches=10) == 3  # the loader is shorter: all of it
    assert not model.training and model[1].momentum == 0.3 and model[4].momentum == 0.1
    for actual, wanted in zip((model[1].running_mean, model[1].running_var, model[4].running_mean,
                               model[4].running_var), expected):
        torch.testing.assert_close(actual, wanted, rtol=1e-5, atol=1e-6)
    assert update_bn_stats(model, iter(batches), num_batches=1) == 1  # only the first batch is read
    torch.testing.assert_close(model[1].running_mean, _expected_stats(_model(), batches[:1])[0])


def test_frozen_layers_and_empty_input_leave_statistics_alone() -> None:
    model = _model()
    original = model[1].running_mean.clone()

    class Frozen(nn.Sequential):
        def train(self, mode: bool = True) -> "Frozen":
            super().train(mode)
            self[1].eval()  # like TSN's partial BN
            return self

    frozen = Frozen(*model)
    update_bn_stats(frozen, iter(_batches(1)), num_batches=2)
    torch.testing.assert_close(frozen[1].running_mean, original)
    assert frozen[4].running_mean.abs().sum() > 0
    before = frozen[4].running_mean.clone()
    assert update_bn_stats(frozen, iter([]), num_batches=5) == 0
    torch.testing.assert_close(frozen[4].running_mean, before)
    with pytest.raises(ValueError, match="num_batches"):
        update_bn_stats(model, iter([]), num_batches=0)


def test_clip_inputs_normalise_without_training_transforms() -> None:
    calls = []
    preprocess = ClipPreprocessor((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), train_transforms=(lambda c: calls.append(1) or c,))
    batch = {"clip": torch.full((1, 3, 2, 2, 2), 255, dtype=torch.uint8), "label": torch.zeros(1)}
    (inputs,) = list(clip_inputs([batch], preprocess, torch.device("cpu")))
    torch.testing.assert_close(inputs, torch.ones(1, 3, 2, 2, 2))
    assert not calls


def _rank_main(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        model = _model()
        update_bn_stats(model, iter(_batches(10 + rank)), num_batches=3)
        torch.save((model[1].running_mean, model[4].running_var), f"{out_dir}/rank{rank}.pt")
        dist.barrier()  # neither rank tears the group down while the other may still be using its connection
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_end_with_the_averaged_statistics(tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    context = mp.get_context("spawn")
    processes = [context.Process(target=_rank_main, args=(rank, port, str(tmp_path))) for rank in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode == 0
    all_batches = _batches(10) + _batches(11)  # equal batch counts: the average over every batch of the job
    mean, _, _, var = _expected_stats(_model(), all_batches)
    for rank in range(2):
        rank_mean, rank_var = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(rank_mean, mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(rank_var, var, rtol=1e-5, atol=1e-6)


def _tiny_trainer(tmp_path, **config_values):
    """A Trainer of tiny_job's BN net on 24 generated clips (batch 4), and its loader, preprocess and config."""
    import importlib.util
    from pathlib import Path

    from common.engine.cli import engine_defaults
    from common.engine.param_groups import no_decay_param_groups
    from common.engine.schedules import LRSchedule, constant
    from common.engine.trainer import Trainer

    spec = importlib.util.spec_from_file_location("tiny_job", Path(__file__).with_name("tiny_job.py"))
    tiny_job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny_job)
    config = engine_defaults(output_dir=str(tmp_path), batch_size=4, workers=0, seed=3, no_progress=True,
                             **config_values)
    torch.manual_seed(0)
    model = tiny_job.TinyNet(batch_norm=True)
    loader = tiny_job.make_loader(tiny_job.TinyClips(24, seed=1), 4, train=True, seed=config.seed)
    preprocess = ClipPreprocessor((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    trainer = Trainer(model, torch.optim.SGD(no_decay_param_groups(model, 0.0), lr=0.1), LRSchedule(constant(0.1), 0.1),
                      nn.functional.cross_entropy, loader, config, preprocess=preprocess)
    trainer.logger.echo = False
    trainer.logger.save_curves = lambda: None  # the per-epoch PNG takes 98% of these runs' time
    return trainer, loader, preprocess, config


def test_trainer_recomputes_statistics_before_each_evaluation(tmp_path) -> None:
    import copy

    from common.data.loader import set_loader_epoch

    trainer, loader, preprocess, config = _tiny_trainer(tmp_path, epochs=2, eval_every=2, precise_bn_batches=2)
    trainer.fit()
    expected = copy.deepcopy(trainer.model)
    set_loader_epoch(loader, 1, config.seed)  # the last epoch's order: its first 2 batches
    update_bn_stats(expected, clip_inputs(loader, preprocess, torch.device("cpu")), 2)
    torch.testing.assert_close(trainer.model.norm.running_mean, expected.norm.running_mean)
    torch.testing.assert_close(trainer.model.norm.running_var, expected.norm.running_var)
    log = (tmp_path / "log.txt").read_text()
    assert log.count("precise BN: running statistics recomputed on 2 training batches") == 1  # epoch 2 only


def test_trainer_recomputes_statistics_before_each_snapshot_and_evaluation_once_per_epoch(tmp_path,
                                                                                         monkeypatch) -> None:
    """PySlowFast: precise BN before each checkpoint (``--save-every`` snapshot) and each evaluation, once for an
    epoch that is both (epoch 4: the last, so an evaluation point, and a snapshot); not at other epochs (1)."""
    from common.engine.checkpoint import CheckpointManager
    from common.engine.trainer import Trainer

    events: list[tuple[str, int | None]] = []
    recompute, save = Trainer._precise_bn, CheckpointManager.save

    def counted_recompute(self) -> None:
        events.append(("precise_bn", self.epoch + 1))  # the epoch in progress, 1-based
        recompute(self)

    def recorded_save(self, state, epoch_finished=None, is_best=False) -> None:
        events.append(("snapshot" if self.is_snapshot_epoch(epoch_finished) else "save", epoch_finished))
        save(self, state, epoch_finished, is_best)

    monkeypatch.setattr(Trainer, "_precise_bn", counted_recompute)
    monkeypatch.setattr(CheckpointManager, "save", recorded_save)
    trainer, *_ = _tiny_trainer(tmp_path, epochs=4, eval_every=3, save_every=2, precise_bn_batches=1)
    trainer.fit()
    assert [epoch for kind, epoch in events if kind == "precise_bn"] == [2, 3, 4]
    snapshots = [epoch for kind, epoch in events if kind == "snapshot"]
    assert snapshots == [2, 4] and [epoch for kind, epoch in events if kind == "save"] == [1, 3]
    for epoch in snapshots:  # the recomputation of that epoch comes right before its checkpoint
        assert events[events.index(("snapshot", epoch)) - 1] == ("precise_bn", epoch)
    assert sorted(path.name for path in (tmp_path / "checkpoints").glob("epoch_*.pth")) == [
        f"epoch_{epoch:04d}.pth" for epoch in snapshots]
