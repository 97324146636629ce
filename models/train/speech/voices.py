"""Voice catalogue for the synthetic speech corpus, with the data policy built in.

Allowed voices: every espeak-ng voice and variant; flite kal, kal16, awb and rms; festival
kal_diphone. Never flite slt or awb_time, and no other festival voice.

Each recipe names a voice set, which says the voices it holds out; a held-out voice appears
only in the "eval" split of that set, so evaluation measures how a model does on voices it
never heard. Everything else is "train".

- "enhance" (the enhancer, and the default): flite awb and flite rms held out.
- "asr" (the speech recogniser): flite rms and espeak-ng en-gb-scotland (every variant) held
  out; flite awb trains. The recogniser's first model, trained without any flite clustergen
  voice, did not carry over to awb and rms at all (character error 15 % on training voices,
  49 % on those two); a recogniser for human speech needs the one natural-sounding speaker
  family the policy allows, so this set keeps one of its two speakers for the test and takes a
  whole espeak-ng accent as the second unseen voice.

sample_voice() draws concrete settings (voice, variant, rate, pitch, duration stretch, mean
F0) for one utterance from a seeded generator, so a shard is reproducible from its seed.
"""
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

ENGINES = ("espeak-ng", "flite", "festival")
FORBIDDEN_VOICES = frozenset({("flite", "slt"), ("flite", "awb_time")})
VOICE_SETS = ("enhance", "asr")
EVAL_ONLY_VOICES_OF_SET = {
    "enhance": frozenset({("flite", "awb"), ("flite", "rms")}),
    "asr": frozenset({("flite", "rms"), ("espeak-ng", "en-gb-scotland")}),
}
EVAL_ONLY_VOICES = EVAL_ONLY_VOICES_OF_SET["enhance"]
ALLOWED_FLITE_VOICES = frozenset({"kal", "kal16", "awb", "rms"})
ALLOWED_FESTIVAL_VOICES = frozenset({"kal_diphone"})

# espeak-ng variants (files in espeak-ng-data/voices/!v). Each changes formants, pitch range
# or voicing; all are allowed. Names with spaces are left out: they cannot follow a "+".
ESPEAK_VARIANTS = (
    "Alex Alicia Andrea Andy Annie AnxiousAndy Demonic Denis Diogo Gene Gene2 Henrique Hugo "
    "Jacky Lee Marco Mario Michael Mike Nguyen RicishayMax RicishayMax2 RicishayMax3 Storm "
    "Tweaky UniRobot adam anika anikaRobot announcer antonio aunty belinda benjamin boris "
    "caleb croak david ed edward edward2 f1 f2 f3 f4 f5 fast grandma grandpa gustave iven "
    "iven2 iven3 iven4 john kaukovalta klatt klatt2 klatt3 klatt4 klatt5 klatt6 linda m1 m2 "
    "m3 m4 m5 m6 m7 m8 marcelo max michel miguel norbert pablo paul pedro quincy rob robert "
    "robosoft robosoft2 robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 sandro "
    "shelby steph steph2 steph3 travis victor whisper whisperf zac"
).split()

# English accents carry most of the weight; Latin-script foreign voices reading English text
# add accented pronunciations for variety.
ESPEAK_ENGLISH = ("en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-scotland",
                  "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
ESPEAK_FOREIGN = ("de", "nl", "fr-fr", "es", "it", "pt-br", "sv", "pl", "cs", "fi", "id")


@dataclass(frozen=True)
class VoiceEntry:
    """One speaker of one engine, its split, its share of the draws and its setting ranges."""
    engine: str
    voice: str
    split: str
    weight: float
    rate_wpm: Optional[Tuple[int, int]] = None      # espeak-ng -s
    pitch: Optional[Tuple[int, int]] = None         # espeak-ng -p (0..99)
    stretch: Optional[Tuple[float, float]] = None   # flite/festival duration stretch
    f0_mean: Optional[Tuple[int, int]] = None       # flite/festival target mean F0 in Hz
    variants: Tuple[str, ...] = field(default=())   # espeak-ng "+variant" choices
    plain_share: float = 0.0                        # chance of no variant at all


@dataclass(frozen=True)
class VoiceSettings:
    """Concrete settings for one utterance."""
    engine: str
    voice: str
    split: str
    variant: str = ""
    rate_wpm: Optional[int] = None
    pitch: Optional[int] = None
    stretch: Optional[float] = None
    f0_mean: Optional[int] = None
    voice_set: str = "enhance"

    def spec(self) -> str:
        """Compact, human-readable description stored with each utterance."""
        name = self.voice + (f"+{self.variant}" if self.variant else "")
        parts = [self.engine, name]
        if self.rate_wpm is not None:
            parts.append(f"s={self.rate_wpm}")
        if self.pitch is not None:
            parts.append(f"p={self.pitch}")
        if self.stretch is not None:
            parts.append(f"stretch={self.stretch:.2f}")
        if self.f0_mean is not None:
            parts.append(f"f0={self.f0_mean}")
        return ":".join(parts)


# Ordinary adult variants for the held-out espeak-ng accent: the test should not hinge on
# whisper, robot or novelty variants, which no recogniser is meant for.
ESPEAK_PLAIN_VARIANTS = tuple("m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 klatt".split())


def _espeak_training_entries(english: List[str], english_weight: float,
                             foreign_weight: float) -> List[VoiceEntry]:
    """English accents sharing english_weight, foreign voices sharing foreign_weight; every
    variant, random rate and pitch."""
    entries = [VoiceEntry("espeak-ng", name, "train", english_weight / len(english),
                          rate_wpm=(125, 205), pitch=(20, 80),
                          variants=tuple(ESPEAK_VARIANTS), plain_share=0.25)
               for name in english]
    entries += [VoiceEntry("espeak-ng", name, "train", foreign_weight / len(ESPEAK_FOREIGN),
                           rate_wpm=(125, 185), pitch=(20, 80),
                           variants=tuple(ESPEAK_VARIANTS), plain_share=0.25)
                for name in ESPEAK_FOREIGN]
    return entries


def _kal_training_entries(kal16: float, kal: float, kal_diphone: float) -> List[VoiceEntry]:
    """The Kal diphone voices (flite kal16 and kal, festival kal_diphone) at these weights,
    with random duration stretch and mean F0."""
    return [VoiceEntry(engine, voice, "train", weight, stretch=(0.85, 1.25), f0_mean=(85, 140))
            for engine, voice, weight in (("flite", "kal16", kal16), ("flite", "kal", kal),
                                          ("festival", "kal_diphone", kal_diphone))]


def _build_catalogue() -> List[VoiceEntry]:
    # Training: espeak-ng about 70 % of the draws, the Kal voices the rest. (The order of the
    # entries is part of each shard's seeded draw: keep it.)
    entries = _espeak_training_entries(list(ESPEAK_ENGLISH), 60.0, 10.0)
    entries += _kal_training_entries(11.0, 7.0, 12.0)
    # Evaluation: the two held-out speakers, natural pitch, mild tempo changes only.
    entries.append(VoiceEntry("flite", "awb", "eval", 50.0, stretch=(0.9, 1.15)))
    entries.append(VoiceEntry("flite", "rms", "eval", 50.0, stretch=(0.9, 1.15)))
    return entries


def _build_asr_catalogue() -> List[VoiceEntry]:
    # Training: flite awb with its mean F0 moved across 80-180 Hz (the clustergen voices follow
    # it) about a third of the draws, espeak-ng about 45 %, the Kal voices the rest.
    english = [name for name in ESPEAK_ENGLISH if name != "en-gb-scotland"]
    entries = _espeak_training_entries(english, 38.0, 7.0)
    entries.append(VoiceEntry("flite", "awb", "train", 34.0, stretch=(0.8, 1.3),
                              f0_mean=(80, 180)))
    entries += _kal_training_entries(8.0, 5.0, 8.0)
    # Evaluation: rms at its natural pitch with mild tempo changes, and the Scottish espeak-ng
    # accent with ordinary variants.
    entries.append(VoiceEntry("flite", "rms", "eval", 50.0, stretch=(0.9, 1.15)))
    entries.append(VoiceEntry("espeak-ng", "en-gb-scotland", "eval", 50.0, rate_wpm=(140, 190),
                              pitch=(30, 70), variants=ESPEAK_PLAIN_VARIANTS, plain_share=0.4))
    return entries


CATALOGUE: List[VoiceEntry] = _build_catalogue()
CATALOGUE_OF_SET = {"enhance": CATALOGUE, "asr": _build_asr_catalogue()}


def _checked_set(voice_set: str) -> str:
    if voice_set not in VOICE_SETS:
        raise ValueError(f"unknown voice set {voice_set!r}; choose one of {', '.join(VOICE_SETS)}")
    return voice_set


def check_policy(engine: str, voice: str, split: str, voice_set: str = "enhance") -> None:
    """Raise ValueError when a voice may not be used for a split; the single gatekeeper."""
    key = (engine, voice)
    held_out = EVAL_ONLY_VOICES_OF_SET[_checked_set(voice_set)]
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is not allowed")
    if key in FORBIDDEN_VOICES:
        raise ValueError(f"{engine} voice {voice!r} is never allowed")
    if engine == "flite" and voice not in ALLOWED_FLITE_VOICES:
        raise ValueError(f"flite voice {voice!r} is not on the allowed list")
    if engine == "festival" and voice not in ALLOWED_FESTIVAL_VOICES:
        raise ValueError(f"festival voice {voice!r} is not on the allowed list")
    if split not in ("train", "eval"):
        raise ValueError(f"unknown split {split!r}")
    if split == "train" and key in held_out:
        raise ValueError(f"{engine} voice {voice!r} is held out for evaluation "
                         f"(voice set {voice_set!r})")
    if split == "eval" and key not in held_out:
        raise ValueError(f"{engine} voice {voice!r} is a training voice of voice set "
                         f"{voice_set!r}, not an eval voice")


def entries_for_split(split: str, voice_set: str = "enhance") -> List[VoiceEntry]:
    """Catalogue entries of one split of a voice set, each checked against the policy."""
    chosen = [entry for entry in CATALOGUE_OF_SET[_checked_set(voice_set)] if entry.split == split]
    if not chosen:
        raise ValueError(f"no voices for split {split!r}")
    for entry in chosen:
        check_policy(entry.engine, entry.voice, split, voice_set)
    return chosen


def sample_voice(split: str, rng: random.Random, voice_set: str = "enhance") -> VoiceSettings:
    """Settings for one utterance of `split`, drawn from rng (a seeded random.Random)."""
    entries = entries_for_split(split, voice_set)
    entry = rng.choices(entries, weights=[e.weight for e in entries])[0]
    variant = ""
    if entry.variants and rng.random() >= entry.plain_share:
        variant = rng.choice(entry.variants)
    settings = VoiceSettings(
        engine=entry.engine, voice=entry.voice, split=split, variant=variant,
        rate_wpm=rng.randint(*entry.rate_wpm) if entry.rate_wpm else None,
        pitch=rng.randint(*entry.pitch) if entry.pitch else None,
        stretch=round(rng.uniform(*entry.stretch), 2) if entry.stretch else None,
        f0_mean=rng.randint(*entry.f0_mean) if entry.f0_mean else None,
        voice_set=voice_set,
    )
    check_policy(settings.engine, settings.voice, split, voice_set)
    return settings


def split_weights(split: str, voice_set: str = "enhance") -> Dict[str, float]:
    """Share of draws per engine/voice for a split (for reports and tests)."""
    entries = entries_for_split(split, voice_set)
    total = sum(e.weight for e in entries)
    return {f"{e.engine}:{e.voice}": e.weight / total for e in entries}
