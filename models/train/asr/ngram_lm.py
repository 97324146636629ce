"""Word n-gram language model for the recogniser: interpolated modified Kneser-Ney, as ARPA.

    /usr/bin/python3 -m models.train.asr.ngram_lm --out build/asr_speech/lm/words_3gram.arpa \\
        [--order 3] [--sentences 200000] [--seed 3001] [--min-count 1 1 1] \\
        [--exclude 'build/asr_speech/dev_*.ssc'] [--perplexity 'build/asr_speech/dev_*.ssc']

Trained only on training-split sentences of speech/sentences.py's generator (split_of() ==
"train"; an eval-split sentence makes the trainer raise), so the held-out sentences of the
evaluation set are never in its counts. Sentences of the shards given to --exclude (the ASR
development shard) are skipped too, so perplexity and WER on them are honest.

The model (Chen and Goodman, "An empirical study of smoothing techniques for language
modeling", TR-10-98, 1998, section 3; interpolated form, three discounts per order):

    p_k(w | h) = (a(h w) - D_k(a(h w))) / sum_v a(h v)  +  gamma(h) * p_{k-1}(w | h')

where h' is h without its first word, and a() is the raw count at the highest order and the
continuation count N1+(. h w) (how many distinct words precede h w) below it. An n-gram that
starts with <s> cannot be preceded by anything, so it keeps its raw count at every order (as
KenLM does). D_k(1), D_k(2), D_k(3+) come from the counts-of-counts n1..n4 of order k:
Y = n1 / (n1 + 2 n2), D(c) = c - (c + 1) Y n_{c+1} / n_c. The unigram level interpolates with
the uniform distribution over the vocabulary plus </s> and <unk>, so every word, and <unk> for
words never seen, has a probability.

Pruning (--min-count, per order, on a()): an n-gram below its order's minimum is dropped from
the explicit list and its discounted mass moves into gamma(h), so the distribution stays
normalised: gamma(h) = 1 - sum over kept w of (a(h w) - D(a(h w))) / sum_v a(h v). Prefixes
and suffixes of kept n-grams are always kept, as ARPA's backoff needs.

ARPA form: an interpolated model is exactly a backoff model whose explicit entries carry the
interpolated probability and whose backoff weight is gamma(h); log10 values, 6 decimals.
"""
import argparse
import collections
import glob
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from speech import sentences as sentence_source  # noqa: E402

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LOG10_ZERO = -99.0          # ARPA's "never": <s> is a context, never predicted
DEFAULT_ORDER = 3
DEFAULT_SENTENCES = 200_000
DEFAULT_SEED = 3001         # away from the shard seeds (1-3, 1001, 2001-2199)

NGram = Tuple[str, ...]


@dataclass
class NgramModel:
    """An n-gram backoff model: per order, {ngram: (log10 prob, log10 backoff weight)}."""
    order: int
    entries: List[Dict[NGram, Tuple[float, float]]] = field(default_factory=list)
    description: List[str] = field(default_factory=list)

    @property
    def vocabulary(self) -> List[str]:
        """Every unigram, <s>, </s> and <unk> included."""
        return [ngram[0] for ngram in self.entries[0]]

    def log10_prob(self, word: str, history: Sequence[str]) -> float:
        """log10 p(word | history) by ARPA backoff; a word outside the vocabulary is <unk>."""
        unigrams = self.entries[0]
        word = word if (word,) in unigrams else UNK
        context = tuple(w if (w,) in unigrams else UNK for w in history)
        context = context[max(0, len(context) - (self.order - 1)):]
        backoff = 0.0
        while True:
            entry = self.entries[len(context)].get(context + (word,))
            if entry is not None:
                return backoff + entry[0]
            if not context:
                return LOG10_ZERO  # only for <s>, which has no probability
            history_entry = self.entries[len(context) - 1].get(context)
            if history_entry is not None:
                backoff += history_entry[1]
            context = context[1:]

    def sentence_log10_prob(self, words: Sequence[str]) -> float:
        """log10 p of a whole sentence, </s> included, starting after <s>."""
        history = [BOS]
        total = 0.0
        for word in list(words) + [EOS]:
            total += self.log10_prob(word, history)
            history.append(word)
        return total


# --- Training ------------------------------------------------------------------------------------


def _count(sentences: Iterable[Sequence[str]], order: int) -> Tuple[List[collections.Counter], int]:
    """Raw counts of every k-gram (k = 1..order) of the padded sentences, and the sentence count."""
    counts = [collections.Counter() for _ in range(order)]
    sentence_count = 0
    for words in sentences:
        tokens = [BOS] + list(words) + [EOS]
        sentence_count += 1
        for k in range(1, order + 1):
            counter = counts[k - 1]
            for start in range(len(tokens) - k + 1):
                counter[tuple(tokens[start:start + k])] += 1
    return counts, sentence_count


def _adjusted_counts(raw: List[collections.Counter]) -> List[Dict[NGram, int]]:
    """a(): raw counts at the highest order; below it, the number of distinct left
    extensions, except for n-grams that start with <s> (they keep their raw counts)."""
    order = len(raw)
    adjusted: List[Dict[NGram, int]] = [dict() for _ in range(order)]
    adjusted[order - 1] = dict(raw[order - 1])
    for k in range(order - 1, 0, -1):  # order k (1-based) from the extensions at k + 1
        left_extensions: Dict[NGram, int] = collections.Counter()
        for longer in raw[k]:
            left_extensions[longer[1:]] += 1
        level = {}
        for ngram, count in raw[k - 1].items():
            level[ngram] = count if ngram[0] == BOS else left_extensions.get(ngram, 0)
        adjusted[k - 1] = level
    return adjusted


def modified_kn_discounts(counts: Iterable[int]) -> Tuple[float, float, float]:
    """(D(1), D(2), D(3+)) from the counts-of-counts of one order (Chen and Goodman, eq. 26).

    Tiny corpora can lack the counts-of-counts the estimate needs, or give a discount outside
    (0, c); then each falls back to a fixed fraction of its count, which keeps the model
    normalised (only the amount of smoothing changes)."""
    of = collections.Counter(min(int(c), 5) for c in counts if c > 0)
    n1, n2, n3, n4 = of[1], of[2], of[3], of[4]
    fallback = (0.5, 1.0, 1.5)
    if min(n1, n2, n3) == 0:
        return fallback
    y = n1 / (n1 + 2.0 * n2)
    estimates = (1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3)
    return tuple(d if 0.0 < d < c else fb
                 for d, c, fb in zip(estimates, (1.0, 2.0, 3.0), fallback))


def _discount(count: int, discounts: Tuple[float, float, float]) -> float:
    return discounts[min(count, 3) - 1]


def train_kneser_ney(sentences: Iterable[Sequence[str]], order: int = DEFAULT_ORDER,
                     min_counts: Optional[Sequence[int]] = None) -> NgramModel:
    """An interpolated modified Kneser-Ney model of tokenised sentences (lists of words)."""
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    min_counts = list(min_counts or [1] * order)
    if len(min_counts) != order or any(m < 1 for m in min_counts) or min_counts[0] != 1:
        raise ValueError(f"min_counts needs {order} values >= 1, the first (unigrams) 1; "
                         f"got {min_counts}")
    raw, sentence_count = _count(sentences, order)
    if sentence_count == 0:
        raise ValueError("no training sentences")
    adjusted = _adjusted_counts(raw)

    # Which explicit entries survive pruning; prefixes and suffixes of kept n-grams are kept.
    kept: List[set] = [set(adjusted[0])]
    for k in range(2, order + 1):
        kept.append({g for g, c in adjusted[k - 1].items() if c >= min_counts[k - 1]})
    for k in range(order, 1, -1):
        for ngram in kept[k - 1]:
            kept[k - 2].add(ngram[:-1])
            kept[k - 2].add(ngram[1:])

    discounts = []
    for k in range(1, order + 1):
        values = [c for g, c in adjusted[k - 1].items() if not (k == 1 and g[0] == BOS)]
        discounts.append(modified_kn_discounts(values))

    # Unigrams: discounted continuation counts plus the uniform share of gamma0.
    predicted = [g for g in adjusted[0] if g[0] != BOS]
    if (UNK,) not in adjusted[0]:
        predicted.append((UNK,))
    total = float(sum(adjusted[0].get(g, 0) for g in predicted))
    probs: List[Dict[NGram, float]] = [dict() for _ in range(order)]
    discounted = {g: max(adjusted[0].get(g, 0) - _discount(adjusted[0].get(g, 0),
                                                           discounts[0]), 0.0)
                  if adjusted[0].get(g, 0) > 0 else 0.0 for g in predicted}
    gamma0 = 1.0 - sum(discounted.values()) / total
    for g in predicted:
        probs[0][g] = discounted[g] / total + gamma0 / len(predicted)

    gammas: List[Dict[NGram, float]] = [dict() for _ in range(order)]  # by history length
    for k in range(2, order + 1):
        level = adjusted[k - 1]
        totals: Dict[NGram, float] = collections.defaultdict(float)
        for ngram, count in level.items():
            totals[ngram[:-1]] += count
        kept_mass: Dict[NGram, float] = collections.defaultdict(float)
        for ngram in kept[k - 1]:
            count = level[ngram]
            kept_mass[ngram[:-1]] += (count - _discount(count, discounts[k - 1])) / \
                totals[ngram[:-1]]
        gamma = {h: 1.0 - kept_mass.get(h, 0.0) for h in totals}
        gammas[k - 1] = gamma
        for ngram in kept[k - 1]:
            history, count = ngram[:-1], level[ngram]
            lower = _backoff_prob(probs, gammas, ngram[1:])
            probs[k - 1][ngram] = (count - _discount(count, discounts[k - 1])) / \
                totals[history] + gamma[history] * lower

    model = NgramModel(order=order)
    for k in range(1, order + 1):
        level_entries: Dict[NGram, Tuple[float, float]] = {}
        names = sorted(kept[k - 1] | ({(UNK,)} if k == 1 else set()))
        for ngram in names:
            if k == 1 and ngram[0] == BOS:
                log_prob = LOG10_ZERO
            else:
                log_prob = math.log10(probs[k - 1][ngram])
            backoff = 0.0
            if k < order:
                gamma = gammas[k].get(ngram)
                backoff = math.log10(gamma) if gamma is not None and gamma > 0.0 else 0.0
            level_entries[ngram] = (log_prob, backoff)
        model.entries.append(level_entries)
    model.description = [
        f"interpolated modified Kneser-Ney, order {order}, {sentence_count} sentences",
        "discounts " + "; ".join(f"order {k + 1}: " + ", ".join(f"{d:.4f}" for d in ds)
                                 for k, ds in enumerate(discounts)),
        "min counts " + " ".join(str(m) for m in min_counts),
    ]
    return model


def _backoff_prob(probs: List[Dict[NGram, float]], gammas: List[Dict[NGram, float]],
                  ngram: NGram) -> float:
    """p(ngram[-1] | ngram[:-1]) from the levels already built (ARPA backoff on floats)."""
    weight = 1.0
    while True:
        value = probs[len(ngram) - 1].get(ngram)
        if value is not None:
            return weight * value
        history = ngram[:-1]
        weight *= gammas[len(ngram) - 1].get(history, 1.0)
        ngram = ngram[1:]


# --- ARPA files ----------------------------------------------------------------------------------


def write_arpa(model: NgramModel, path: str) -> None:
    """The model as an ARPA text file. Description lines go before \\data\\, where readers
    (pocketsphinx, KenLM, SRILM) skip text. Written under a temporary name, then renamed."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.partial"
    with open(temporary, "w", encoding="utf-8") as handle:
        for line in model.description:
            handle.write(f"# {line}\n")
        handle.write("\n\\data\\\n")
        for k, level in enumerate(model.entries, 1):
            handle.write(f"ngram {k}={len(level)}\n")
        for k, level in enumerate(model.entries, 1):
            handle.write(f"\n\\{k}-grams:\n")
            for ngram in sorted(level):
                log_prob, backoff = level[ngram]
                line = f"{log_prob:.6f}\t{' '.join(ngram)}"
                if k < model.order:
                    line += f"\t{backoff:.6f}"
                handle.write(line + "\n")
        handle.write("\n\\end\\\n")
    os.replace(temporary, path)


def read_arpa(path: str) -> NgramModel:
    """An ARPA file as an NgramModel; errors name the file and line."""
    entries: List[Dict[NGram, Tuple[float, float]]] = []
    declared: List[int] = []
    section = 0
    seen_data = False
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            if line == "\\data\\":
                seen_data = True
                continue
            if not seen_data:
                continue
            if line == "\\end\\":
                break
            if line.startswith("ngram ") and section == 0:
                declared.append(int(line.split("=")[1]))
                continue
            if line.startswith("\\") and line.endswith("-grams:"):
                section = int(line[1:line.index("-")])
                if section != len(entries) + 1:
                    raise ValueError(f"{path}:{number}: section {section} out of order")
                entries.append({})
                continue
            parts = line.split()
            if section == 0 or len(parts) < section + 1:
                raise ValueError(f"{path}:{number}: expected a {section}-gram line, got {line!r}")
            log_prob = float(parts[0])
            ngram = tuple(parts[1:1 + section])
            backoff = float(parts[1 + section]) if len(parts) > section + 1 else 0.0
            entries[-1][ngram] = (log_prob, backoff)
    if not seen_data or not entries:
        raise ValueError(f"{path}: no \\data\\ section; not an ARPA file")
    for k, (count, level) in enumerate(zip(declared, entries), 1):
        if count != len(level):
            raise ValueError(f"{path}: header says {count} {k}-grams, the file lists {len(level)}")
    return NgramModel(order=len(entries), entries=entries)


# --- Training text ------------------------------------------------------------------------------


def sentence_ids_in_shards(patterns: Sequence[str]) -> set:
    """Sentence ids of every utterance in the shards matching the glob patterns."""
    from speech.shard import read_shard_header
    ids = set()
    for pattern in patterns:
        paths = sorted(glob.glob(pattern))
        if not paths:
            raise FileNotFoundError(f"no shard matches {pattern!r}")
        for path in paths:
            ids.update(u["sentence_id"] for u in read_shard_header(path)["utterances"])
    return ids


def training_sentences(count: int, seed: int, exclude_ids: Optional[set] = None
                       ) -> List[List[str]]:
    """`count` training-split sentences of the generator for `seed`, as word lists, skipping
    excluded ids. Repeats are kept: they are the generator's own frequencies."""
    exclude_ids = exclude_ids or set()
    chosen: List[List[str]] = []
    for sentence in sentence_source.SentenceGenerator(seed):
        if sentence.split != "train" or sentence.sentence_id in exclude_ids:
            continue
        chosen.append(checked_training_text(sentence.text))
        if len(chosen) == count:
            break
    return chosen


def checked_training_text(text: str) -> List[str]:
    """The words of a transcript that may train the LM; raises for an eval-split sentence."""
    if sentence_source.split_of(text) != "train":
        raise ValueError(f"{text!r} is an evaluation sentence; it must not train the LM")
    return text.split()


def perplexity(model: NgramModel, sentences: Iterable[Sequence[str]]) -> Tuple[float, int]:
    """(perplexity per token, </s> included, token count)."""
    total, tokens = 0.0, 0
    for words in sentences:
        total += model.sentence_log10_prob(words)
        tokens += len(words) + 1
    return 10.0 ** (-total / max(tokens, 1)), tokens


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="ARPA file to write")
    parser.add_argument("--order", type=int, default=DEFAULT_ORDER)
    parser.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES,
                        help="training-split sentences to count")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--min-count", type=int, nargs="+", default=None,
                        help="per order, the smallest count kept as an explicit entry")
    parser.add_argument("--exclude", nargs="*", default=[], metavar="GLOB",
                        help="shards whose sentences must not train the LM (the dev shard)")
    parser.add_argument("--perplexity", nargs="*", default=[], metavar="GLOB",
                        help="shards to report perplexity on (the dev shard)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    exclude_ids = sentence_ids_in_shards(args.exclude) if args.exclude else set()
    text = training_sentences(args.sentences, args.seed, exclude_ids)
    model = train_kneser_ney(text, args.order, args.min_count)
    model.description.insert(0, f"statestream ASR word LM: training-split sentences of "
                                f"sentences.py, seed {args.seed}, {len(exclude_ids)} "
                                f"excluded sentence ids")
    write_arpa(model, args.out)
    sizes = ", ".join(f"{len(level)} {k}-grams" for k, level in enumerate(model.entries, 1))
    print(f"{args.out}: {sizes}; {os.path.getsize(args.out)} bytes; "
          f"{time.perf_counter() - started:.1f} s")
    for line in model.description[1:]:
        print(f"  {line}")
    if args.perplexity:
        from speech.shard import read_shard_header
        held = []
        for pattern in args.perplexity:
            for path in sorted(glob.glob(pattern)):
                held += [u["text"].split() for u in read_shard_header(path)["utterances"]]
        value, tokens = perplexity(read_arpa(args.out), held)
        print(f"  perplexity {value:.2f} over {tokens} tokens of {len(held)} sentences "
              f"({', '.join(args.perplexity)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
