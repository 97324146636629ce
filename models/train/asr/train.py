#!/usr/bin/env python3
"""Train the streaming CTC recogniser (see RECIPE.md).

    python3 -m models.train.asr.train --shards 'build/asr_carry/train_00[012].mdct' \\
        --minutes 8.6 --total-minutes 17.4 --batch 128 --seed 1 --device cuda --out build/asr

--shards takes speech shards (.ssc) or their re-packs (.mdct, mdct_pack.py); shards of the
development set and the test (dev*, eval*) are refused. Stops at --steps, at --minutes of
training, or --wall-minutes after the start of the process (loading included), whichever comes
first. The learning rate warms up over WARMUP steps, then follows a cosine to 5 % over the
training progress: the larger of step / --steps and trained minutes / --total-minutes, where
trained minutes include those of the checkpoint resumed from, so one schedule can span runs on
different data. --init-weights instead starts a new run and a new schedule (step 0, warm-up,
fresh AdamW state) from earlier weights. Every --val-every-th utterance is set aside (training
voices, unseen sentences) and scored, clean and augmented, at each save.

Writes to --out every --save-minutes and at the end: checkpoint.pt (weights, normalisation,
AdamW state with its moments in bfloat16, step, histories; about 8 MB), weights_stepN.pt
(weights and normalisation only, for choosing a checkpoint on the development set), and at the
end log.json. Works with torch 1.13 (CPU) and 2.x (CUDA).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

_STARTED = time.time()
_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from training_schedule import sync, training_device, warmup_cosine_lr  # noqa: E402
from asr import error_rates  # noqa: E402
from asr.data import (VTLP_PROBABILITY, BatchMaker, SpeechStore, expand_patterns,  # noqa: E402
                      feature_statistics, spec_augment, split_validation)
from asr.model import (ARCHITECTURE, FRONTEND, LABELS, Transcriber, build_model,  # noqa: E402
                       ctc_loss, greedy_texts, parameter_count)

WARMUP = 300
MIN_LR_FRACTION = 0.05
VALIDATION_SEED = 424242
VALIDATION_BATCH = 32
STATISTICS_SEED = 777
STATISTICS_BATCHES = 8
GRAD_CLIP = 1.0


def learning_rate(base: float, step: int, progress: float) -> float:
    return warmup_cosine_lr(base, step, progress, WARMUP, MIN_LR_FRACTION)


def load_checkpoint(path: str, device="cpu") -> dict:
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except TypeError:          # a torch without the weights_only argument
        return torch.load(path, map_location=device)


def compact_optimizer_state(state: dict) -> dict:
    """AdamW's state with its moment tensors in bfloat16 (float32's range, 8 bits of
    mantissa): halves the checkpoint, so it travels with the training data. load_state_dict
    casts them back to the parameters' float32."""
    out = {"param_groups": state["param_groups"], "state": {}}
    for key, values in state["state"].items():
        out["state"][key] = {name: (value.to(torch.bfloat16)
                                    if torch.is_tensor(value) and value.is_floating_point()
                                    and value.dim() > 0 else value)
                             for name, value in values.items()}
    return out


def model_summary(model: Transcriber) -> dict:
    return {"architecture": model.architecture, "frontend": FRONTEND, "labels": LABELS,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}


def save_checkpoint(path, model, optimizer, step, args, history, train_minutes, validation,
                    sources):
    state = model_summary(model)
    state.update({"optimizer": compact_optimizer_state(optimizer.state_dict()), "step": step,
                  "args": vars(args), "history": history, "train_minutes": train_minutes,
                  "validation": validation, "sources": sources})
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def save_weights(path, model, step, train_minutes, args, sources):
    state = model_summary(model)
    state.update({"step": step, "train_minutes": train_minutes, "args": vars(args),
                  "sources": sources})
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def validate(model: Transcriber, sets: dict) -> dict:
    """CTC loss and greedy WER/CER (corpus rates) on each fixed validation set."""
    out = {}
    model.eval()
    with torch.no_grad():
        for name, batches in sets.items():
            loss_sum, rows = 0.0, 0
            references, hypotheses = [], []
            for b in batches:
                logits = model(b["features"])
                loss = ctc_loss(logits, b["frame_counts"], b["labels"], b["label_counts"])
                loss_sum += float(loss) * len(b["texts"])
                rows += len(b["texts"])
                references += b["texts"]
                hypotheses += greedy_texts(logits, b["frame_counts"].tolist())
            table = error_rates.score_pairs(references, hypotheses)
            out[name] = {"loss": loss_sum / max(1, rows),
                         "wer": error_rates.corpus_rate(table["word_errors"], table["words"]),
                         "cer": error_rates.corpus_rate(table["char_errors"], table["chars"]),
                         "example": {"reference": references[0], "hypothesis": hypotheses[0]}}
    model.train()
    return out


def make_optimizer(model: Transcriber, lr: float, weight_decay: float):
    # Decay only the projection matrices; norms, decays (A_log), D, dt and conv taps stay free.
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": other, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98), eps=1e-8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", nargs="+", default=["build/asr_speech/train_*.ssc"],
                        help="training shards (.ssc) or packs (.mdct); glob patterns")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=1e9, help="training time of this run")
    parser.add_argument("--wall-minutes", type=float, default=1e9,
                        help="stop this long after the process started, loading included")
    parser.add_argument("--total-minutes", type=float, default=None,
                        help="the learning-rate schedule's length in training minutes over "
                             "this and earlier (resumed) runs; default: --minutes")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--out", default="build/asr")
    parser.add_argument("--resume", default=None)
    parser.add_argument("--init-weights", default=None,
                        help="start a new run and schedule (step 0, warm-up, fresh AdamW) from "
                             "the weights and normalisation of a weights_stepN.pt or "
                             "checkpoint.pt")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-minutes", type=float, default=2.0)
    parser.add_argument("--val-every", type=int, default=50,
                        help="set every N-th training utterance aside for validation (0: none)")
    parser.add_argument("--chunk", type=int, default=64, help="SSD scan chunk (steps)")
    parser.add_argument("--vtlp-prob", type=float, default=VTLP_PROBABILITY,
                        help="probability of a training row's vocal-tract-length warp (0: off)")
    args = parser.parse_args(argv)
    total_minutes = args.total_minutes if args.total_minutes is not None else args.minutes

    os.makedirs(args.out, exist_ok=True)
    device = training_device(args.device, args.seed)

    paths = expand_patterns(args.shards)
    started = time.time()
    store = SpeechStore(paths, device)
    sync(device)
    train_rows, val_rows = split_validation(len(store), args.val_every)
    sources = sorted(set(store.sources))
    print(f"{len(store)} utterances from {', '.join(sources)} ({time.time() - started:.1f} s "
          f"to load): {len(train_rows)} for training ({store.seconds(train_rows) / 60:.1f} min), "
          f"{len(val_rows)} set aside for validation; {store.skipped_held_out} utterances of "
          f"the recogniser's test voices skipped", flush=True)
    if args.resume and args.init_weights:
        raise SystemExit("--resume continues a run, --init-weights starts one: give one of them")

    step, history, validation, prior_minutes = 0, [], [], 0.0
    # On the CPU first: load_state_dict then moves each tensor where its parameter lives.
    ckpt = load_checkpoint(args.resume, "cpu") if args.resume else None
    if ckpt:
        model = Transcriber(ckpt["architecture"]).to(device)
        model.load_state_dict(ckpt["model"])
        step, history = ckpt["step"], ckpt.get("history", [])
        validation = ckpt.get("validation", [])
        prior_minutes = ckpt.get("train_minutes", 0.0)
        print(f"resumed from {args.resume} at step {step} ({prior_minutes:.2f} min trained on "
              f"{', '.join(ckpt.get('sources', []))})", flush=True)
    elif args.init_weights:
        start = load_checkpoint(args.init_weights, "cpu")
        model = Transcriber(start["architecture"]).to(device)
        model.load_state_dict(start["model"])
        print(f"new run from the weights of {args.init_weights} (step {start['step']}, "
              f"{start.get('train_minutes', 0.0):.2f} min trained on "
              f"{', '.join(start.get('sources', []))})", flush=True)
    else:
        model = build_model(ARCHITECTURE, seed=args.seed).to(device)
        stats_maker = BatchMaker(store, train_rows, STATISTICS_SEED, args.batch,
                                 vtlp=args.vtlp_prob)
        mean, std = feature_statistics(stats_maker, STATISTICS_BATCHES, args.batch)
        del stats_maker
        model.feature_mean.copy_(mean.to(device))
        model.feature_std.copy_(std.to(device))
        print(f"feature normalisation from {STATISTICS_BATCHES} augmented batches: mean "
              f"{float(mean.mean()):.2f} (bands {float(mean.min()):.2f}..{float(mean.max()):.2f}),"
              f" std {float(std.mean()):.2f}", flush=True)
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    if ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    print(f"model: {parameter_count(model)} parameters on {device}", flush=True)

    # A different, still seeded, data stream for a resumed run.
    batches = BatchMaker(store, train_rows, args.seed * 1000003 + step, args.batch,
                         vtlp=args.vtlp_prob)
    augment_generator = torch.Generator().manual_seed(args.seed * 7919 + step)
    val_sets = {}
    if val_rows:
        maker = BatchMaker(store, val_rows, VALIDATION_SEED, VALIDATION_BATCH,
                           vtlp=args.vtlp_prob)
        for name, augment in (("clean", False), ("augmented", True)):
            val_sets[name] = [maker.make(val_rows[k:k + VALIDATION_BATCH], augment)
                              for k in range(0, len(val_rows), VALIDATION_BATCH)]
        del maker
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    log_path = os.path.join(args.out, "log.json")

    def run_validation():
        if not val_sets:
            return
        entry = validate(model, val_sets)
        entry.update({"step": step, "minutes": prior_minutes + (time.time() - train_start) / 60})
        validation.append(entry)
        print(f"validation at step {step}: " + "  ".join(
            f"{name} loss {v['loss']:.3f} WER {100 * v['wer']:.1f} % CER {100 * v['cer']:.1f} %"
            for name, v in entry.items() if isinstance(v, dict)), flush=True)
        example = entry["clean"]["example"]
        print(f"  ref: {example['reference']}\n  hyp: {example['hypothesis']}", flush=True)

    def save_all():
        minutes = prior_minutes + (time.time() - train_start) / 60
        save_checkpoint(ckpt_path, model, optimizer, step, args, history, minutes, validation,
                        sources)
        save_weights(os.path.join(args.out, f"weights_step{step}.pt"), model, step, minutes,
                     args, sources)

    first_step = step
    train_start = time.time()
    if first_step == 0:
        run_validation()
    train_start = time.time()
    last_save = train_start
    saved_step = first_step
    sums = {"loss": 0.0, "frames": 0, "n": 0}
    data_time = 0.0
    wall_limit = _STARTED + args.wall_minutes * 60
    while True:
        now = time.time()
        elapsed = now - train_start
        done = step - first_step
        if done >= args.steps or elapsed >= args.minutes * 60 or now >= wall_limit:
            break
        progress = max(done / args.steps, (prior_minutes + elapsed / 60) / total_minutes)
        lr = learning_rate(args.lr, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        sync(device)
        t0 = time.time()
        b = batches.batch(args.batch)
        x = spec_augment(model.normalise(b["features"]), b["frame_counts"], augment_generator)
        sync(device)
        data_time += time.time() - t0
        logits = model.forward_normalised(x, chunk=args.chunk)
        loss = ctc_loss(logits, b["frame_counts"], b["labels"], b["label_counts"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        step += 1
        sums["loss"] += float(loss.detach())
        sums["frames"] += int(b["frame_counts"].sum())
        sums["n"] += 1
        if step % args.log_every == 0 or done == 0 or done + 1 >= args.steps:
            n = sums["n"]
            now = time.time() - train_start
            entry = {"loss": sums["loss"] / n, "step": step, "lr": lr,
                     "grad_norm": float(grad_norm), "minutes": prior_minutes + now / 60,
                     "audio_hours": sums["frames"] / 360000.0,
                     "data_fraction": data_time / max(1e-9, now),
                     "data_ms_per_batch": 1000 * data_time / max(1, done + 1),
                     "steps_per_second": (done + 1) / max(1e-9, now)}
            history.append(entry)
            print(f"step {step:6d}  loss {entry['loss']:.4f}  grad {entry['grad_norm']:.2f}  "
                  f"lr {lr:.2e}  {entry['minutes']:.2f} min  {entry['steps_per_second']:.2f} "
                  f"steps/s  data {entry['data_ms_per_batch']:.1f} ms "
                  f"({entry['data_fraction']:.0%})  frames/batch {sums['frames'] // n}",
                  flush=True)
            sums = {"loss": 0.0, "frames": 0, "n": 0}
        if not math.isfinite(float(loss.detach())):
            raise SystemExit(f"step {step}: loss is {float(loss)}; stopping (the last "
                             f"checkpoint in {args.out} is from step {saved_step})")
        if time.time() - last_save >= args.save_minutes * 60:
            run_validation()
            save_all()
            saved_step = step
            last_save = time.time()

    run_minutes = (time.time() - train_start) / 60
    run_validation()
    save_all()
    summary = {"steps": step, "steps_this_run": step - first_step,
               "minutes": run_minutes, "train_minutes": prior_minutes + run_minutes,
               "total_minutes": total_minutes, "batch": args.batch,
               "seed": args.seed, "lr": args.lr, "weight_decay": args.weight_decay,
               "vtlp_prob": args.vtlp_prob,
               "data_ms_per_batch": 1000 * data_time / max(1, step - first_step),
               "steps_per_second": (step - first_step) / max(1e-9, run_minutes * 60),
               "device": str(device), "torch": torch.__version__,
               "parameters": parameter_count(model), "architecture": model.architecture,
               "frontend": FRONTEND, "sources": sources,
               "training_utterances": len(train_rows), "validation_utterances": len(val_rows),
               "training_minutes_of_speech": store.seconds(train_rows) / 60,
               "history": history, "validation": validation}
    with open(log_path, "w") as handle:
        json.dump(summary, handle, indent=1)
    print(f"saved {ckpt_path} ({os.path.getsize(ckpt_path)} bytes) and {log_path}; "
          f"{step} steps, {time.time() - _STARTED:.0f} s since start", flush=True)


if __name__ == "__main__":
    main()
