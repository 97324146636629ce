"""Tests of the speech corpus code that need no speech engine: shard format, sentence split,
voice policy and transcript normalisation.

    python3 models/train/speech/test_speech_corpus.py [SHARD ...]

Prints each check and exits non-zero when any fails. Shard paths given on the command line
are read and checked against the data policy too (voices and sentences of the right split,
no sentence shared between splits, transcripts in the recogniser's alphabet).
"""
import os
import random
import sys
import tempfile
import traceback

import numpy as np

_REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "..", "..", ".."))
sys.path.insert(0, _REPO_ROOT)

from models.train.speech import sentences, voices  # noqa: E402
from models.train.speech.render import engine_command, trim_silence  # noqa: E402
from models.train.speech.shard import (ShardError, mulaw_decode, mulaw_encode,  # noqa: E402
                                       mulaw_error_bound, read_shard, read_shard_header,
                                       write_shard)

_results = []


def check(description: str):
    """Decorator: run the function as one named check and record pass or fail."""
    def wrap(function):
        try:
            detail = function()
            _results.append((True, description))
            print(f"ok    {description}" + (f" ({detail})" if detail else ""))
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            _results.append((False, description))
            print(f"FAIL  {description}")
            traceback.print_exc(file=sys.stdout)
        return function
    return wrap


def _example_utterances():
    rng = np.random.default_rng(7)
    t16 = np.arange(16000) / 16000.0
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t16) * np.exp(-t16)
    noise = rng.normal(0.0, 0.05, 22050)
    quiet = 1e-4 * rng.uniform(-1.0, 1.0, 8000)
    silence_and_click = np.zeros(4000)
    silence_and_click[2000] = -0.5
    return [
        {"audio": tone, "sample_rate": 16000, "text": "a tone", "voice": "test:tone",
         "split": "train", "sentence_id": "0" * 16, "template": "unit"},
        {"audio": noise, "sample_rate": 22050, "text": "some noise", "voice": "test:noise",
         "split": "train", "sentence_id": "1" * 16},
        {"audio": quiet, "sample_rate": 8000, "text": "it's quiet", "voice": "test:quiet",
         "split": "eval", "sentence_id": "2" * 16},
        {"audio": silence_and_click, "sample_rate": 16000, "text": "click",
         "voice": "test:click", "split": "eval", "sentence_id": "3" * 16},
    ]


def _write_example(directory: str) -> str:
    path = os.path.join(directory, "example.ssc")
    write_shard(path, _example_utterances(), info={"purpose": "test"})
    return path


# ---------------------------------------------------------------------------------------------
# Shard format

@check("mu-law codec: zero is exact, error within the analytic bound, codes 1..255")
def _():
    x = np.concatenate([np.linspace(-1.0, 1.0, 100001), [0.0, 1e-9, -1e-9]])
    codes = mulaw_encode(x)
    decoded = mulaw_decode(codes).astype(np.float64)
    error = np.abs(decoded - x)
    bound = mulaw_error_bound(x)
    assert np.all(error <= bound + 1e-6), f"worst excess {np.max(error - bound)}"
    assert mulaw_decode(mulaw_encode(np.zeros(3))).tolist() == [0.0, 0.0, 0.0]
    assert codes.min() >= 1 and codes.max() <= 255
    return f"max error {error.max():.4f} at full scale, bound {bound.max():.4f}"


@check("shard round trip: metadata kept, audio within mu-law bound, scale restores level")
def _():
    originals = _example_utterances()
    with tempfile.TemporaryDirectory() as directory:
        path = _write_example(directory)
        loaded = read_shard(path)
        restored = read_shard(path, restore_level=True)
        header = read_shard_header(path)
    assert len(loaded) == len(originals)
    assert header["info"] == {"purpose": "test"} and header["version"] == 1
    for original, got, level in zip(originals, loaded, restored):
        for key in ("sample_rate", "text", "voice", "split", "sentence_id"):
            assert got[key] == original[key], (key, got[key], original[key])
        assert got["audio"].dtype == np.float32 and got["audio"].shape == original["audio"].shape
        peak = np.max(np.abs(original["audio"]))
        assert abs(got["scale"] - peak) <= 1e-12 * peak
        normalised = original["audio"] / peak
        bound = mulaw_error_bound(normalised) + 1e-6
        assert np.all(np.abs(got["audio"] - normalised) <= bound), original["text"]
        assert np.all(np.abs(level["audio"] - original["audio"]) <= bound * peak)
        assert abs(float(np.max(np.abs(got["audio"]))) - 1.0) < 1e-6
    assert loaded[0]["template"] == "unit"
    assert np.count_nonzero(loaded[3]["audio"]) == 1, "silence must decode to exact zeros"
    return f"{len(loaded)} utterances at 8000/16000/22050 Hz"


@check("shard writer rejects bad utterances")
def _():
    bad_inputs = [
        [{"audio": np.zeros(10), "sample_rate": 16000, "text": "x", "voice": "v",
          "split": "train"}],                                   # no sentence_id
        [{"audio": np.zeros(0), "sample_rate": 16000, "text": "x", "voice": "v",
          "split": "train", "sentence_id": "s"}],               # empty audio
        [{"audio": np.array([0.1, np.nan]), "sample_rate": 16000, "text": "x", "voice": "v",
          "split": "train", "sentence_id": "s"}],               # NaN
    ]
    with tempfile.TemporaryDirectory() as directory:
        for utterances in bad_inputs:
            try:
                write_shard(os.path.join(directory, "bad.ssc"), utterances)
            except ValueError:
                continue
            raise AssertionError(f"accepted {utterances}")
        assert not os.listdir(directory), "a failed write left a file behind"


@check("truncated, corrupt, foreign and missing shards raise ShardError naming the file")
def _():
    with tempfile.TemporaryDirectory() as directory:
        path = _write_example(directory)
        with open(path, "rb") as handle:
            good = handle.read()
        damaged = os.path.join(directory, "damaged.ssc")
        cases = {
            "empty file": b"",
            "cut in prefix": good[:20],
            "cut in header": good[:40],
            "cut in payload": good[:len(good) - 10],
            "missing last byte": good[:-1],
            "flipped payload byte": good[:-5] + bytes([good[-5] ^ 0x40]) + good[-4:],
            "flipped header byte": good[:50] + bytes([good[50] ^ 0x01]) + good[51:],
            "trailing garbage": good + b"junk",
            "wrong magic": b"RIFF" + good[4:],
        }
        for name, content in cases.items():
            with open(damaged, "wb") as handle:
                handle.write(content)
            try:
                read_shard(damaged)
            except ShardError as error:
                assert damaged in str(error), f"{name}: message lacks the path: {error}"
                continue
            raise AssertionError(f"{name}: no ShardError")
        missing = os.path.join(directory, "missing.ssc")
        try:
            read_shard(missing)
            raise AssertionError("missing file: no ShardError")
        except ShardError as error:
            assert missing in str(error)
    return f"{len(cases) + 1} damaged files"


# ---------------------------------------------------------------------------------------------
# Sentences and the split

@check("number words, ordinals")
def _():
    expected = {0: "zero", 13: "thirteen", 40: "forty", 105: "one hundred five",
                2405: "two thousand four hundred five", 1000000: "one million",
                -7: "minus seven", 22050: "twenty two thousand fifty"}
    for n, words in expected.items():
        assert sentences.number_words(n) == words, (n, sentences.number_words(n))
    assert sentences.number_words(105, british_and=True) == "one hundred and five"
    assert sentences.number_words(2005, british_and=True) == "two thousand and five"
    ordinals = {1: "first", 2: "second", 3: "third", 12: "twelfth", 20: "twentieth",
                23: "twenty third", 31: "thirty first", 100: "one hundredth"}
    for n, words in ordinals.items():
        assert sentences.ordinal_words(n) == words, (n, sentences.ordinal_words(n))


@check("normalise(): lowercase a-z, apostrophe, single spaces; digits spelled out")
def _():
    cases = {
        "Hello,  World!  It's 42.": "hello world it's forty two",
        "'Quoted' words -- and a well-known co-op?": "quoted words and a well known co op",
        "Don\u2019t stop\n\tnow": "don't stop now",
        "   ": "",
        "Caf\u00e9 au lait": "cafe au lait",
    }
    for raw, expected in cases.items():
        assert sentences.normalise(raw) == expected, (raw, sentences.normalise(raw))
    generator = sentences.SentenceGenerator(3)
    for _ in range(5000):
        sentence = generator.next()
        text = sentence.text
        assert set(text) <= sentences.ALPHABET, text
        assert text == text.strip() and "  " not in text, text
        assert sentences.normalise(sentence.display) == text
        assert sentences.normalise(text) == text, "normalise must be idempotent"
        assert sentences.MIN_WORDS <= len(text.split()) <= sentences.MAX_WORDS, text
        assert not any(c.isdigit() for c in sentence.display), sentence.display
    return "5000 generated sentences"


@check("sentence generation is deterministic for a seed and differs between seeds")
def _():
    first = [s.display for s in sentences.sentences_for_split("train", 11, 200)]
    again = [s.display for s in sentences.sentences_for_split("train", 11, 200)]
    other = [s.display for s in sentences.sentences_for_split("train", 12, 200)]
    assert first == again
    assert first != other
    assert len(set(first)) == len(first), "sentences of one call must be distinct"


@check("split is a pure function of the normalised text, ~10 % eval, train/eval disjoint")
def _():
    train_ids, eval_ids, total = set(), set(), 0
    for seed in range(4):
        for sentence in sentences.sentences_for_split("train", seed, 1500):
            assert sentence.split == "train" == sentences.split_of(sentence.text)
            train_ids.add(sentence.sentence_id)
        for sentence in sentences.sentences_for_split("eval", seed, 300):
            assert sentence.split == "eval" == sentences.split_of(sentence.text)
            eval_ids.add(sentence.sentence_id)
    assert not train_ids & eval_ids, "a sentence is in both splits"
    counted = {"train": 0, "eval": 0}
    seen = set()
    for sentence in sentences.SentenceGenerator(99):
        if sentence.sentence_id in seen:
            continue
        seen.add(sentence.sentence_id)
        counted[sentence.split] += 1
        total += 1
        if total == 20000:
            break
    share = counted["eval"] / total
    assert 0.08 <= share <= 0.12, share
    text = "The train leaves at five past seven."
    variants = [text, text.upper(), "the train leaves, at five past seven?"]
    assert len({sentences.split_of(v) for v in variants}) == 1
    assert len({sentences.sentence_id(sentences.normalise(v)) for v in variants}) == 1
    return f"{len(train_ids)} train and {len(eval_ids)} eval ids disjoint; " \
           f"eval share {share:.3f} of {total} distinct sentences"


# ---------------------------------------------------------------------------------------------
# Voices

@check("voice catalogue: train never gets awb, rms, slt or awb_time; eval only awb and rms")
def _():
    rng = random.Random(5)
    train_voices, eval_voices = set(), set()
    for _ in range(20000):
        settings = voices.sample_voice("train", rng)
        train_voices.add((settings.engine, settings.voice))
    for _ in range(2000):
        settings = voices.sample_voice("eval", rng)
        eval_voices.add((settings.engine, settings.voice))
    forbidden_in_train = {("flite", "awb"), ("flite", "rms"), ("flite", "slt"),
                          ("flite", "awb_time")}
    assert not train_voices & forbidden_in_train, train_voices & forbidden_in_train
    assert eval_voices == {("flite", "awb"), ("flite", "rms")}, eval_voices
    for entry in voices.CATALOGUE:
        assert (entry.engine, entry.voice) not in voices.FORBIDDEN_VOICES
        if entry.engine == "festival":
            assert entry.voice == "kal_diphone"
        if entry.engine == "flite":
            assert entry.voice in {"kal", "kal16", "awb", "rms"}
        held_out = (entry.engine, entry.voice) in voices.EVAL_ONLY_VOICES
        assert entry.split == ("eval" if held_out else "train"), entry
    engines = {engine for engine, _ in train_voices}
    assert engines == {"espeak-ng", "flite", "festival"}, engines
    return f"{len(train_voices)} train voices, {len(eval_voices)} eval voices"


@check("recogniser's voice set: trains on awb, holds out rms and espeak-ng en-gb-scotland")
def _():
    rng = random.Random(6)
    train_voices = {(s.engine, s.voice) for s in
                    (voices.sample_voice("train", rng, "asr") for _ in range(20000))}
    eval_voices = {(s.engine, s.voice) for s in
                   (voices.sample_voice("eval", rng, "asr") for _ in range(2000))}
    held_out = {("flite", "rms"), ("espeak-ng", "en-gb-scotland")}
    assert eval_voices == held_out, eval_voices
    assert not train_voices & (held_out | voices.FORBIDDEN_VOICES), train_voices & held_out
    assert ("flite", "awb") in train_voices
    for engine, voice in held_out:
        try:
            engine_command(voices.VoiceSettings(engine, voice, "train", voice_set="asr"),
                           "in.txt", "out.wav")
        except ValueError:
            pass
        else:
            raise AssertionError(f"built a training command for held-out {engine} {voice}")
    voices.check_policy("flite", "awb", "train", "asr")
    try:
        voices.check_policy("flite", "awb", "train")          # the enhancer's test voice
    except ValueError:
        pass
    else:
        raise AssertionError("the enhancer's voice set let awb train")
    try:
        voices.check_policy("flite", "kal", "train", "no-such-set")
    except ValueError as error:
        assert "voice set" in str(error), error
    else:
        raise AssertionError("accepted an unknown voice set")
    return f"{len(train_voices)} train voices, eval {sorted(eval_voices)}"


@check("policy gate refuses forbidden or misplaced voices, also at command building")
def _():
    refused = [("flite", "slt", "train"), ("flite", "slt", "eval"),
               ("flite", "awb_time", "eval"), ("flite", "awb", "train"),
               ("flite", "rms", "train"), ("festival", "cmu_us_slt_arctic_hts", "train"),
               ("festival", "kal_diphone", "eval"), ("espeak-ng", "en-us", "eval"),
               ("piper", "x", "train")]
    for engine, voice, split in refused:
        try:
            voices.check_policy(engine, voice, split)
        except ValueError:
            pass
        else:
            raise AssertionError(f"allowed {engine} {voice} in {split}")
        try:
            engine_command(voices.VoiceSettings(engine, voice, split), "in.txt", "out.wav")
        except ValueError:
            pass
        else:
            raise AssertionError(f"built a command for {engine} {voice} in {split}")
    for engine, voice, split in [("flite", "awb", "eval"), ("flite", "kal", "train"),
                                 ("festival", "kal_diphone", "train"),
                                 ("espeak-ng", "en-gb-x-rp", "train")]:
        voices.check_policy(engine, voice, split)


@check("voice sampling is deterministic and spec strings describe the settings")
def _():
    rng_a, rng_b = random.Random(8), random.Random(8)
    series_a = [voices.sample_voice("train", rng_a).spec() for _ in range(300)]
    series_b = [voices.sample_voice("train", rng_b).spec() for _ in range(300)]
    assert series_a == series_b
    assert len(set(series_a)) > 250, "settings should vary from draw to draw"
    espeak = voices.VoiceSettings("espeak-ng", "en-us", "train", variant="m3", rate_wpm=160,
                                  pitch=40)
    assert espeak.spec() == "espeak-ng:en-us+m3:s=160:p=40"
    command = engine_command(espeak, "in.txt", "out.wav")
    assert command[:3] == ["espeak-ng", "-v", "en-us+m3"] and "-w" in command
    flite = voices.VoiceSettings("flite", "kal16", "train", stretch=1.1, f0_mean=100)
    assert "duration_stretch=1.10" in engine_command(flite, "in.txt", "out.wav")
    festival = voices.VoiceSettings("festival", "kal_diphone", "train", stretch=0.9)
    assert engine_command(festival, "in.txt", "out.wav")[:3] == \
        ["text2wave", "-eval", "(voice_kal_diphone)"]


@check("silence trimming keeps about 100 ms around the speech")
def _():
    rate = 16000
    speech = 0.5 * np.sin(np.arange(rate) * 0.2)
    padded = np.concatenate([np.zeros(rate), speech, np.zeros(2 * rate)])
    trimmed = trim_silence(padded, rate)
    kept_silence = (len(trimmed) - len(speech)) / rate
    assert 0.18 <= kept_silence <= 0.22, kept_silence
    assert len(trim_silence(np.zeros(rate), rate)) == 0


def check_rendered_shards(paths):
    """Policy checks on real shards: the voice and sentence of every utterance match its split."""
    @check(f"rendered shards obey the data policy ({len(paths)} files)")
    def _():
        ids = {"train": set(), "eval": set()}
        seconds = {"train": 0.0, "eval": 0.0}
        for path in paths:
            voice_set = read_shard_header(path)["info"].get("voice_set", "enhance")
            for utterance in read_shard(path):
                split = utterance["split"]
                engine, voice = utterance["voice"].split(":")[:2]
                voices.check_policy(engine, voice.split("+")[0], split, voice_set)
                assert voice.split("+")[0] not in ("slt", "awb_time"), utterance["voice"]
                text = utterance["text"]
                assert sentences.split_of(text) == split, (path, text)
                assert sentences.normalise(text) == text and set(text) <= sentences.ALPHABET
                assert sentences.sentence_id(text) == utterance["sentence_id"]
                assert np.all(np.isfinite(utterance["audio"]))
                ids[split].add(utterance["sentence_id"])
                seconds[split] += len(utterance["audio"]) / utterance["sample_rate"]
        assert not ids["train"] & ids["eval"], "a sentence is spoken in both splits"
        return ", ".join(f"{split}: {len(ids[split])} sentences, {seconds[split] / 60:.1f} min"
                         for split in ("train", "eval"))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        check_rendered_shards(sys.argv[1:])
    failed = [description for ok, description in _results if not ok]
    print(f"\n{len(_results) - len(failed)} of {len(_results)} checks passed")
    sys.exit(1 if failed else 0)
