"""Multi-process training through Hugging Face Accelerate.

The same training code runs as one process or as N processes started by ``accelerate launch``
(``--multi_gpu``, ``--use_fsdp``, several machines) or ``torchrun`` (which is what Accelerate's GPU
launcher uses; on CPUs it gives DDP over gloo). The batch a config names is the **global** batch of
one optimiser step: it is split over processes and gradient-accumulation micro-steps, and every
process draws the same global indices and noise from the shared seed and takes its part, so a run
gives the same updates (up to floating-point summation order) on any number of processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from macedance.errors import ValidationError

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The process group this training process belongs to (a single process is a group of one)."""

    accelerator: Any  # accelerate.Accelerator

    @property
    def rank(self) -> int:
        return int(self.accelerator.process_index)

    @property
    def world(self) -> int:
        return int(self.accelerator.num_processes)

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    def micro_batches(self, batch: int, accum: int) -> list[slice]:
        """This process's slices of a global batch, one per accumulation micro-step: the global batch
        is laid out as (accum, world, per-process) rows."""
        per = batch // (accum * self.world)
        if per < 1 or per * accum * self.world != batch:
            raise ValidationError("train.batch", f"a multiple of processes × grad_accum = {self.world} × {accum}", str(batch))
        return [slice((k * self.world + self.rank) * per, (k * self.world + self.rank + 1) * per) for k in range(accum)]

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """Mean of a tensor over the processes."""
        return self.accelerator.reduce(value.detach().to(self.device), "mean") if self.world > 1 else value.detach()

    def gather_objects(self, obj: Any) -> list[Any]:
        """``obj`` of every process, in rank order."""
        if self.world == 1:
            return [obj]
        from accelerate.utils import gather_object

        return list(gather_object([obj]))

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()


def runtime(device: str, find_unused_parameters: bool = False) -> Runtime:
    """The Accelerate runtime for ``device`` (``cpu`` or ``cuda``): plain single-process unless launched
    by ``accelerate launch``/``torchrun``, then DDP (NCCL on GPUs, gloo on CPUs) or what the launch
    config says (FSDP, DeepSpeed)."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValidationError("device", "cpu or cuda", repr(device))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValidationError("device", "cpu (no CUDA device is available)", repr(device))
    acc = Accelerator(cpu=device == "cpu", kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)])
    rt = Runtime(acc)
    if rt.world > 1:
        log.info("process %d of %d on %s (%s)", rt.rank, rt.world, rt.device, acc.distributed_type)
    return rt
