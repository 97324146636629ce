#!/usr/bin/env python3
"""Choose the beam search's LM weight, word bonus and beam on the development set.

    /usr/bin/python3 -m models.train.asr.tune_decoder --model data/models/transcriber.safetensors \\
        --lm data/models/transcriber.lm.arpa --weights 0.2 0.3 0.5 --bonuses 1 2.5 4 --beams 16

Runs the engine itself (`statestream transcribe --format jsonl`, many files per call) on the
development items of export_transcriber.dev_items (training voices, development sentences,
clean and with training noise types; the recogniser's test voices are dropped), once per
setting of the grid, and prints corpus WER and CER per condition and their mean, best first.
The held-out test (evaluate_asr.py) plays no part: settings are chosen here, then tested once.
"""
import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import error_rates  # noqa: E402
from asr.evaluate_asr import transcribe_files  # noqa: E402
from asr.export_transcriber import DEFAULT_DEV_SHARD, dev_items  # noqa: E402

SAMPLE_RATE = 16000


def score(items: List[Dict], paths: List[str], texts: Dict[str, str]) -> Dict[str, Dict]:
    out = {}
    for condition in ("clean", "noisy"):
        chosen = [(item["text"], texts.get(path, "")) for item, path in zip(items, paths)
                  if item["condition"] == condition]
        table = error_rates.score_pairs([r for r, _ in chosen], [h for _, h in chosen])
        out[condition] = {
            "wer": error_rates.corpus_rate(table["word_errors"], table["words"]),
            "cer": error_rates.corpus_rate(table["char_errors"], table["chars"])}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statestream", default="build/release/statestream")
    parser.add_argument("--model", required=True)
    parser.add_argument("--lm", required=True, help="ARPA LM of the beam search")
    parser.add_argument("--dev-shard", default=DEFAULT_DEV_SHARD)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.3])
    parser.add_argument("--bonuses", type=float, nargs="+", default=[2.5])
    parser.add_argument("--beams", type=int, nargs="+", default=[16])
    parser.add_argument("--greedy", action="store_true", help="also score greedy decoding")
    parser.add_argument("--json", help="write every setting's figures here")
    args = parser.parse_args(argv)

    import scipy.io.wavfile
    items = dev_items(args.dev_shard)
    results: List[Dict] = []
    with tempfile.TemporaryDirectory(prefix="tune-decoder-") as work:
        paths = []
        for item in items:
            path = os.path.join(work, f"{item['name']}.wav")
            scipy.io.wavfile.write(path, SAMPLE_RATE, np.asarray(item["audio"], np.float32))
            paths.append(path)
        settings = [{"decoder": "greedy", "options": ["--lm", "none"]}] if args.greedy else []
        for beam, weight, bonus in itertools.product(args.beams, args.weights, args.bonuses):
            settings.append({"decoder": f"beam {beam}, LM weight {weight:g}, bonus {bonus:g}",
                             "beam": beam, "lm_weight": weight, "word_bonus": bonus,
                             "options": ["--lm", args.lm, "--beam", str(beam), "--lm-weight",
                                         str(weight), "--word-bonus", str(bonus)]})
        for setting in settings:
            began = time.perf_counter()
            texts = transcribe_files(args.statestream, paths, ["--model", args.model]
                                     + setting["options"])
            setting.update(score(items, paths, texts), seconds=time.perf_counter() - began)
            setting["mean_wer"] = (setting["clean"]["wer"] + setting["noisy"]["wer"]) / 2
            results.append(setting)
            print(f"{setting['decoder']:<36} clean WER {100 * setting['clean']['wer']:6.2f} "
                  f"CER {100 * setting['clean']['cer']:5.2f} | noisy WER "
                  f"{100 * setting['noisy']['wer']:6.2f} CER {100 * setting['noisy']['cer']:5.2f}"
                  f" | mean WER {100 * setting['mean_wer']:6.2f} ({setting['seconds']:.0f} s)",
                  flush=True)
    ranked = sorted(results, key=lambda r: r["mean_wer"])
    print(f"\nbest on {len(items) // 2} development utterances (clean and noisy): "
          f"{ranked[0]['decoder']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"dev_shard": args.dev_shard, "model": args.model, "lm": args.lm,
                       "utterances": len(items) // 2,
                       "results": [{k: v for k, v in r.items() if k != "options"}
                                   for r in ranked]}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
