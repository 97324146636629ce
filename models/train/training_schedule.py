"""What every training recipe shares about time and place: the learning-rate schedule (linear
warm-up, then a cosine down to a floor over the run's progress), the device a run trains on,
and waiting for it before a step is timed."""
import math

import torch


def warmup_cosine_lr(base: float, step: int, progress: float, warmup: int,
                     min_fraction: float) -> float:
    """base * min(1, (step + 1) / warmup) * (min_fraction + (1 - min_fraction) *
    (1 + cos(pi * progress)) / 2), progress in 0..1 (clamped)."""
    warm = min(1.0, (step + 1) / warmup)
    cosine = min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return base * warm * cosine


def sync(device: torch.device) -> None:
    """Waits for queued CUDA work, so wall-clock timings measure the step itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_device(name: str, seed: int) -> torch.device:
    """The device `name` ("cuda", "cpu", ...), with TF32 matrix products allowed on CUDA (the
    recipes train in float32 and tolerate TF32's 10-bit mantissa for about 3x the matmul
    speed), and torch's global generator seeded with `seed`."""
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(seed)
    return device
