"""The streaming recogniser: front-end, model, CTC loss and greedy decoding, all in torch.

    audio (16 kHz) -> log_mel(audio, 16000, 400, 160, 80)       [M, 80]  one frame per 10 ms
                   -> SsmModel (causal Mamba-2 stack)             [M, 29]  logits per frame
                   -> argmax per frame, merge repeats, drop blanks -> text (text.VOCABULARY)

This is exactly what the C++ engine runs for a model file whose frontend is FRONTEND: raw
log-mel in, no normalisation outside the model. Training puts a fixed per-band affine
normalisation (feature mean and spread, measured once on augmented training batches) in front
of the SsmModel, because Adam's steps on the input projection behave far better on features of
unit scale than on raw ln-energies around -5 with a spread of 4; export folds it into
input_proj (Transcriber.exported), so the file still takes raw log-mel.

Training runs batches through the reference SsmModel.forward itself (its Mamba-2 layers take
leading batch dimensions), so the maths trained is the maths exported.
"""
import copy
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import text as asr_text  # noqa: E402
from features import log_mel  # noqa: E402
from ssm_model import SsmModel  # noqa: E402

SAMPLE_RATE = 16000
WINDOW = 400          # 25 ms
HOP = 160             # 10 ms: one model step per hop
N_BANDS = 80

FRONTEND: Dict = {"type": "log_mel", "sample_rate_hz": SAMPLE_RATE, "window_samples": WINDOW,
                  "hop_samples": HOP, "n_bands": N_BANDS}

# The model file's "labels": symbol of each output index, blank first as "".
LABELS: List[str] = [""] + asr_text.VOCABULARY[1:]

# 6 Mamba-2 layers at d_model 160: 1.01 M parameters, 4.0 MB as a model file, about 1 M
# multiply-adds per 10 ms step (the engine's budget is 0.03 RTF on one core; d_model <= 192 and
# <= 6 layers keep it there). d_model 160 rather than 192 also keeps a resumable checkpoint
# (weights + Adam moments in bfloat16) at 8 MB, small enough to travel with the training data.
ARCHITECTURE: Dict = {
    "input_dim": N_BANDS, "d_model": 160, "output_dim": len(LABELS), "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 32, "head_dim": 32, "expand": 2, "d_conv": 4,
                "n_groups": 1} for _ in range(6)],
}


def features(audio: torch.Tensor) -> torch.Tensor:
    """(..., T) 16 kHz audio -> (..., T // 160, 80) raw log-mel, as the engine computes it."""
    return log_mel(audio, SAMPLE_RATE, WINDOW, HOP, N_BANDS)


class Transcriber(nn.Module):
    """SsmModel behind a fixed per-band normalisation of the raw log-mel input."""

    def __init__(self, architecture: Dict, feature_mean: Optional[torch.Tensor] = None,
                 feature_std: Optional[torch.Tensor] = None):
        super().__init__()
        self.ssm = SsmModel(dict(architecture))
        dim = architecture["input_dim"]
        self.register_buffer("feature_mean", torch.zeros(dim) if feature_mean is None
                             else feature_mean.detach().float().clone())
        self.register_buffer("feature_std", torch.ones(dim) if feature_std is None
                             else feature_std.detach().float().clone())

    @property
    def architecture(self) -> Dict:
        return self.ssm.architecture

    def normalise(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw - self.feature_mean) / self.feature_std

    def forward_normalised(self, x: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """(B, M, 80) normalised features -> (B, M, 29) logits (training: SpecAugment goes
        between normalise and this)."""
        return self.ssm(x, chunk=chunk)[0]

    def forward(self, raw: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """(B, M, 80) raw log-mel -> (B, M, 29) logits."""
        return self.forward_normalised(self.normalise(raw), chunk)

    def exported(self) -> SsmModel:
        """A plain SsmModel on raw log-mel: the normalisation folded into input_proj,
        W' = W / std (per input column), b' = b - W' mean."""
        model = copy.deepcopy(self.ssm).cpu().float()
        with torch.no_grad():
            weight = self.ssm.input_proj.weight.detach().cpu().double() / \
                self.feature_std.cpu().double()[None, :]
            bias = self.ssm.input_proj.bias.detach().cpu().double() - \
                weight @ self.feature_mean.cpu().double()
            model.input_proj.weight.copy_(weight.float())
            model.input_proj.bias.copy_(bias.float())
        return model.eval()


def build_model(architecture: Optional[Dict] = None, seed: int = 0) -> Transcriber:
    torch.manual_seed(seed)
    return Transcriber(dict(architecture or ARCHITECTURE))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def ctc_loss(logits: torch.Tensor, frame_counts: torch.Tensor, labels: torch.Tensor,
             label_counts: torch.Tensor) -> torch.Tensor:
    """Mean over rows of CTC loss / label count (torch's 'mean'); logits (B, M, 29), labels the
    rows' label indices back to back (1-D, never the blank). A row whose labels cannot fit its
    frames adds zero (zero_infinity) instead of an infinite loss."""
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)    # (M, B, C)
    return F.ctc_loss(log_probs, labels, frame_counts, label_counts,
                      blank=asr_text.BLANK_INDEX, reduction="mean", zero_infinity=True)


def greedy_labels(logits: torch.Tensor, frame_count: Optional[int] = None) -> List[int]:
    """Best-path decoding of one utterance's (M, 29) logits: argmax per frame, repeats merged,
    blanks dropped."""
    if frame_count is not None:
        logits = logits[:frame_count]
    return asr_text.ctc_collapse(logits.argmax(dim=-1).tolist())


def greedy_texts(logits: torch.Tensor, frame_counts: Sequence[int]) -> List[str]:
    """Transcripts of a batch of (B, M, 29) logits."""
    best = logits.argmax(dim=-1).cpu()
    return [asr_text.decode(asr_text.ctc_collapse(best[i, :int(n)].tolist()))
            for i, n in enumerate(frame_counts)]


def transcribe(model: nn.Module, audio: torch.Tensor) -> str:
    """Greedy transcript of one 16 kHz utterance (T,) by a Transcriber or an exported
    SsmModel (raw log-mel in either way)."""
    with torch.no_grad():
        raw = features(audio.float())[None]
        if isinstance(model, Transcriber):
            logits = model(raw)[0]
        else:
            logits = model(raw)[0][0]
    return asr_text.decode(greedy_labels(logits))


def labels_metadata() -> Dict[str, str]:
    """The model file's extra metadata: "labels", the symbol of each output index."""
    return {"labels": json.dumps(LABELS)}


class ModelFileTranscriber:
    """A transcriber model file (export_transcriber.py) run in torch, float32, greedy CTC: the
    reference of what `statestream transcribe` computes. Callable as an evaluate_asr engine:
    (float32 audio, sample rate, name) -> text."""

    def __init__(self, path: str):
        from ssm_model import load_model
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: no model file there; export one with "
                             "models/train/asr/export_transcriber.py")
        self.model, self.metadata = load_model(path, dtype=torch.float32)
        self.model.eval()
        # As the engine sets FTZ/DAZ: decaying states and silent bands reach denormal floats,
        # which the CPU computes many times slower; flushed to zero they change no output.
        torch.set_flush_denormal(True)
        frontend = json.loads(self.metadata.get("frontend", "{}"))
        labels = json.loads(self.metadata.get("labels", "null"))
        if self.metadata.get("task") != "transcribe" or frontend != FRONTEND or labels != LABELS:
            raise ValueError(f"{path}: not a transcriber of this recipe (task "
                             f"{self.metadata.get('task')!r}, frontend {frontend}, labels "
                             f"{labels}); expected task 'transcribe', {FRONTEND}, {LABELS}")
        self.path = path

    def __call__(self, audio, rate: int, name: str = "") -> str:
        if rate != SAMPLE_RATE:
            raise ValueError(f"{name}: audio at {rate} Hz; this reference takes {SAMPLE_RATE} Hz "
                             "(the engine resamples, this does not)")
        return transcribe(self.model, torch.as_tensor(audio, dtype=torch.float32))
