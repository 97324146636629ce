"""The recogniser's text side: normalisation to the CTC alphabet, the vocabulary, encode/decode.

The alphabet is the speech corpus's transcript alphabet (speech/sentences.py): lowercase a-z,
apostrophe and single spaces. Everything a recogniser or a reference may contain is brought to
that form by normalise():

* digits are spelled out as spoken words: "42" -> "forty two", "3.5" -> "three point five",
  "1,200" -> "one thousand two hundred", "21st" -> "twenty first", "7:05" -> "seven oh five",
  "15%" -> "fifteen percent", "$3" -> "three dollars", "-4" -> "minus four";
* accents are dropped, hyphens and slashes become spaces, "&" becomes "and", other punctuation
  goes; apostrophes stay inside words only (sentences.normalise does this last part).

The corpus writes numbers out in words already, so for its transcripts normalise() is the
identity; it matters for what other recognisers print and for text from outside the corpus.

Vocabulary: index 0 is the CTC blank, then space, apostrophe and a..z (29 symbols). The C++
decoder must use the same table; VOCABULARY is the single definition.
"""
import os
import re
import sys
from typing import Iterable, List, Sequence

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from speech.sentences import ALPHABET, normalise as _corpus_normalise  # noqa: E402
from speech.sentences import number_words, ordinal_words  # noqa: E402

BLANK = "<blank>"
# Index 0 = blank is what torch.nn.CTCLoss(blank=0) expects; space next, so a decoder can
# find word boundaries by one comparison.
VOCABULARY: List[str] = [BLANK, " ", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
BLANK_INDEX = 0
SPACE_INDEX = 1
_INDEX = {symbol: index for index, symbol in enumerate(VOCABULARY)}

_CURRENCY_WORDS = {"$": ("dollar", "dollars"), "\u00a3": ("pound", "pounds"),
                   "\u20ac": ("euro", "euros")}
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_CURRENCY = re.compile(r"([$\u00a3\u20ac])\s?(\d+(?:,\d{3})*)(?:\.(\d{2}))?\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_GROUPED = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_PERCENT = re.compile(r"(\d)\s?%")
_MINUS = re.compile(r"(^|\s)-(\d)")


def _cardinal(digits: str) -> str:
    return number_words(int(digits.replace(",", "")))


def _digit_by_digit(digits: str) -> str:
    return " ".join(number_words(int(d)) for d in digits)


def _currency(match: "re.Match") -> str:
    singular, plural_name = _CURRENCY_WORDS[match.group(1)]
    amount = int(match.group(2).replace(",", ""))
    words = f"{number_words(amount)} {singular if amount == 1 else plural_name}"
    if match.group(3) and int(match.group(3)) > 0:
        cents = int(match.group(3))
        minor = {"$": ("cent", "cents"), "\u00a3": ("penny", "pence"),
                 "\u20ac": ("cent", "cents")}[match.group(1)]
        words += f" and {number_words(cents)} {minor[0] if cents == 1 else minor[1]}"
    return f" {words} "


def _clock(match: "re.Match") -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return f" {number_words(hours)} o'clock "
    if minutes < 10:
        return f" {number_words(hours)} oh {number_words(minutes)} "
    return f" {number_words(hours)} {number_words(minutes)} "


def normalise(text: str) -> str:
    """Text in the recogniser's alphabet (see the module docstring); idempotent."""
    text = text.replace("&", " and ")
    text = _CURRENCY.sub(_currency, text)
    text = _PERCENT.sub(r"\1 percent", text)
    text = _CLOCK.sub(_clock, text)
    text = _ORDINAL_SUFFIX.sub(lambda m: f" {ordinal_words(int(m.group(1)))} ", text)
    text = _DECIMAL.sub(lambda m: f" {_cardinal(m.group(1))} point "
                                  f"{_digit_by_digit(m.group(2))} ", text)
    text = _GROUPED.sub(lambda m: f" {_cardinal(m.group(0))} ", text)
    text = _MINUS.sub(r"\1 minus \2", text)
    # What is left (plain digit runs, punctuation, case, accents, apostrophes) is the
    # corpus's own rule, so references and hypotheses go through the same code.
    return _corpus_normalise(text)


def is_normalised(text: str) -> bool:
    """True when text is already in the alphabet with single spaces and no edge spaces."""
    return set(text) <= ALPHABET and text == " ".join(text.split()) and \
        all(word.strip("'") == word for word in text.split())


def encode(text: str) -> List[int]:
    """Label indices (1..28, never the blank) of an already normalised transcript."""
    labels = []
    for position, char in enumerate(text):
        index = _INDEX.get(char)
        if index is None or index == BLANK_INDEX:
            raise ValueError(f"character {char!r} at position {position} of {text!r} is not "
                             "in the recogniser's alphabet; pass the text through "
                             "text.normalise() first")
        labels.append(index)
    return labels


def decode(labels: Iterable[int]) -> str:
    """Text of label indices; blanks are skipped (a label sequence has none)."""
    chars = []
    for index in labels:
        index = int(index)
        if not 0 <= index < len(VOCABULARY):
            raise ValueError(f"label {index} is outside the vocabulary (0..{len(VOCABULARY) - 1})")
        if index != BLANK_INDEX:
            chars.append(VOCABULARY[index])
    return "".join(chars)


def ctc_collapse(frame_labels: Sequence[int]) -> List[int]:
    """Best-path CTC output: merge runs of the same label, then drop blanks ("aa_a" -> "aa")."""
    collapsed, previous = [], None
    for index in frame_labels:
        index = int(index)
        if index != previous and index != BLANK_INDEX:
            collapsed.append(index)
        previous = index
    return collapsed


# --- Scoring form -------------------------------------------------------------------------------
#
# The corpus spells words the British way (sentences.py's word lists); a recogniser trained on
# American text writes "meter" for the same sound. Such a difference is not a recognition
# error, so before counting errors both the reference and the hypothesis are mapped to one
# spelling (the corpus's), the way NIST scoring applies a GLM file. The list holds only words
# our sentences use; the map is applied to every system alike.
SCORING_SPELLINGS = {
    "meter": "metre", "meters": "metres", "kilometer": "kilometre", "kilometers": "kilometres",
    "liter": "litre", "liters": "litres", "yogurt": "yoghurt", "color": "colour",
    "harbor": "harbour", "theater": "theatre", "gray": "grey", "traveled": "travelled",
    "traveling": "travelling",
}


def scoring_form(text: str) -> str:
    """normalise(text) with American spellings mapped to the corpus's (SCORING_SPELLINGS)."""
    return " ".join(SCORING_SPELLINGS.get(word, word) for word in normalise(text).split())
