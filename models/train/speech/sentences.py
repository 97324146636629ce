"""Deterministic English sentence generator for the synthetic speech corpus.

Sentences come from hand-written templates and word lists in this file (no outside text), so
the corpus is reproducible from a seed on any machine. Every sentence has two forms:

* display text, with capitals and punctuation, which is what the speech engine reads (the
  punctuation shapes its prosody);
* the transcript, normalise(display): lowercase a-z, apostrophe and single spaces, the
  recogniser's alphabet.

Numbers, times, dates, money and addresses are always written out as words, so engines never
expand digits their own way and the transcript says exactly what was spoken.

Whole sentences are held out for evaluation: split_of() hashes the transcript, so a sentence
always lands in the same split however (and by whichever seed) it was generated.
"""
import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

EVAL_PER_MILLE = 100          # about 10 % of distinct sentences are evaluation-only
MIN_WORDS = 3
MAX_WORDS = 15
ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz' ")

# ---------------------------------------------------------------------------------------------
# Normalisation and the split

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]


def number_words(n: int, british_and: bool = False) -> str:
    """Cardinal number in words, e.g. 2405 -> "two thousand four hundred five".

    british_and inserts "and" before the last part under a hundred ("one hundred and five"),
    the other common spoken form; both appear in the corpus.
    """
    if n < 0:
        return "minus " + number_words(-n, british_and)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        words = _ONES[hundreds] + " hundred"
        if rest:
            words += (" and " if british_and else " ") + number_words(rest)
        return words
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            words = number_words(high, british_and) + " " + name
            if rest:
                joiner = " and " if (british_and and rest < 100) else " "
                words += joiner + number_words(rest, british_and)
            return words
    raise ValueError(f"number too large: {n}")


_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def ordinal_words(n: int) -> str:
    """Ordinal number in words, e.g. 23 -> "twenty third"."""
    words = number_words(n).split(" ")
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        words[-1] = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _spell_digits(match: "re.Match") -> str:
    return " " + number_words(int(match.group(0))) + " "


def normalise(text: str) -> str:
    """Transcript form of text: lowercase a-z, apostrophe and single spaces only.

    Accents are dropped (café -> cafe), hyphens and slashes become spaces, other punctuation
    goes, apostrophes are kept inside words only (quotes around words are dropped), and any
    digit run left over is spelled out as a cardinal number so nothing is lost silently.
    """
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[0-9]+", _spell_digits, text)
    text = re.sub(r"[-/_]", " ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        if word:
            words.append(word)
    return " ".join(words)


def sentence_id(transcript: str) -> str:
    """Stable id of a sentence: the first 16 hex digits of the SHA-1 of its transcript."""
    return hashlib.sha1(transcript.encode("utf-8")).hexdigest()[:16]


def split_of(sentence: str) -> str:
    """ "train" or "eval" for a sentence, decided only by its normalised text.

    The hash is salted differently from sentence_id so the split is not tied to id order.
    """
    digest = hashlib.sha256(b"split-v1:" + normalise(sentence).encode("utf-8")).digest()
    return "eval" if int.from_bytes(digest[:4], "little") % 1000 < EVAL_PER_MILLE else "train"


# ---------------------------------------------------------------------------------------------
# Word lists

FIRST_NAMES = """
alice anna arthur ben bella carlos chloe daniel david diana edward elena emily frank grace
george hannah harry helen isaac jack james jane julia kate laura leo lily lucy marco maria
mark martha max mia nathan nina oliver olivia oscar paul peter rachel robert rosa ruby sam
sarah simon sofia thomas victor walter william zoe amir priya kenji omar fatima ivan
""".split()

SURNAMES = """
smith jones taylor brown wilson evans thomas johnson roberts walker wright robinson thompson
white hughes edwards green hall wood harris lewis martin jackson clarke clark turner hill scott
cooper morris ward moore king watson baker harrison morgan patel young allen mitchell
""".split()

PLACES = """
london paris berlin madrid rome dublin edinburgh glasgow manchester liverpool bristol leeds
oxford cambridge york boston chicago denver seattle portland austin toronto vancouver sydney
melbourne auckland tokyo delhi cairo lisbon vienna prague oslo stockholm helsinki warsaw
amsterdam brussels geneva zurich athens istanbul chester bath norwich exeter
""".split()

STREETS = """
elm oak maple pine cedar birch willow church station market mill park river bridge high
north south east west hill spring garden meadow orchard chapel school castle harbour
""".split()

STREET_KINDS = "street road avenue lane drive way close crescent place terrace".split()

ANIMALS = """
cat dog horse cow sheep goat pig rabbit mouse fox wolf bear deer owl eagle hawk duck goose
swan frog snake turtle whale dolphin shark seal otter badger squirrel hedgehog lion tiger
elephant giraffe zebra monkey camel parrot penguin spider beetle bee butterfly
""".split()

FOODS = """
apples bread butter cheese milk eggs rice pasta potatoes carrots onions tomatoes lettuce
beans peas lemons oranges bananas grapes strawberries coffee tea sugar salt pepper flour
honey yoghurt soup biscuits chocolate noodles mushrooms garlic ginger spinach cabbage pears
plums cherries peaches walnuts almonds olives
""".split()

OBJECTS = """
book table chair lamp window door key bag box bottle cup plate knife spoon fork clock watch
phone camera radio map letter parcel ticket wallet umbrella coat hat scarf glove shoe pencil
notebook basket bucket ladder hammer rope blanket pillow mirror candle kettle bicycle car
train boat piano guitar violin drum picture photograph envelope jar bowl brush sofa desk
""".split()

ROOMS = """
kitchen garden hallway bedroom bathroom attic cellar garage office library classroom
studio workshop basement porch balcony corridor
""".split()

PLACES_IN_TOWN = [
    "station", "library", "museum", "bakery", "pharmacy", "hospital", "school", "market",
    "harbour", "bank", "cinema", "theatre", "park", "stadium", "hotel", "church", "bridge",
    "square", "airport", "supermarket", "post office", "town hall", "bus stop",
    "train station", "fire station", "police station",
]

ADJECTIVES = """
old new small large little big bright dark quiet loud warm cold heavy light soft hard
clean dirty empty full quick slow early late young ancient strange simple careful
cheerful gentle sudden narrow wide deep shallow smooth rough sharp round square green red
blue yellow brown grey white black golden silver wooden metal broken tired happy busy
lucky famous hidden distant nearby fresh dry wet sweet bitter noisy lonely friendly
""".split()

COLOURS = "red orange yellow green blue purple pink brown black white grey silver gold".split()

PROFESSIONS = """
teacher doctor nurse farmer baker pilot engineer driver painter builder gardener musician
writer student lawyer chemist cook librarian sailor soldier dentist plumber carpenter
singer dancer scientist programmer editor manager waiter
""".split()

ADVERBS = """
quickly slowly quietly loudly carefully suddenly gently happily early late always never
often rarely sometimes finally nearly almost already again soon together
""".split()

# (base, past, ing, third person) of verbs that take an object.
TRANSITIVE_VERBS = [
    ("carry", "carried", "carrying", "carries"), ("find", "found", "finding", "finds"),
    ("open", "opened", "opening", "opens"), ("close", "closed", "closing", "closes"),
    ("paint", "painted", "painting", "paints"), ("clean", "cleaned", "cleaning", "cleans"),
    ("move", "moved", "moving", "moves"), ("fix", "fixed", "fixing", "fixes"),
    ("build", "built", "building", "builds"), ("sell", "sold", "selling", "sells"),
    ("buy", "bought", "buying", "buys"), ("bring", "brought", "bringing", "brings"),
    ("take", "took", "taking", "takes"), ("watch", "watched", "watching", "watches"),
    ("drop", "dropped", "dropping", "drops"), ("wash", "washed", "washing", "washes"),
    ("lift", "lifted", "lifting", "lifts"), ("hide", "hid", "hiding", "hides"),
    ("borrow", "borrowed", "borrowing", "borrows"), ("lose", "lost", "losing", "loses"),
    ("check", "checked", "checking", "checks"), ("count", "counted", "counting", "counts"),
    ("pack", "packed", "packing", "packs"), ("push", "pushed", "pushing", "pushes"),
    ("pull", "pulled", "pulling", "pulls"), ("catch", "caught", "catching", "catches"),
    ("throw", "threw", "throwing", "throws"), ("draw", "drew", "drawing", "draws"),
    ("send", "sent", "sending", "sends"), ("keep", "kept", "keeping", "keeps"),
    ("mend", "mended", "mending", "mends"), ("wrap", "wrapped", "wrapping", "wraps"),
]

INTRANSITIVE_VERBS = [
    ("arrive", "arrived", "arriving", "arrives"), ("leave", "left", "leaving", "leaves"),
    ("sleep", "slept", "sleeping", "sleeps"), ("laugh", "laughed", "laughing", "laughs"),
    ("wait", "waited", "waiting", "waits"), ("walk", "walked", "walking", "walks"),
    ("run", "ran", "running", "runs"), ("sing", "sang", "singing", "sings"),
    ("swim", "swam", "swimming", "swims"), ("dance", "danced", "dancing", "dances"),
    ("work", "worked", "working", "works"), ("rest", "rested", "resting", "rests"),
    ("travel", "travelled", "travelling", "travels"), ("listen", "listened", "listening",
                                                       "listens"),
    ("shout", "shouted", "shouting", "shouts"), ("return", "returned", "returning", "returns"),
]

WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
MONTHS = ("january february march april may june july august september october november "
          "december").split()
MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
WEATHER = "sunny cloudy rainy windy foggy stormy clear mild frosty humid".split()

TECH_NOUNS = """
server database network router cable keyboard screen printer laptop battery sensor
microphone speaker filter buffer thread process kernel driver compiler library module
function variable parameter register counter timer signal channel stream packet socket
update backup password account firmware processor memory disk cache queue model layer
""".split()

TECH_ADJECTIVES = """
local remote main spare default backup primary secondary digital wireless shared
internal external old new faulty stable
""".split()

TECH_ACTIONS = [
    "restart the {tn}", "update the {tn}", "check the {tn}", "replace the {tn}",
    "reset the {tn}", "disable the {tn}", "enable the {tn}", "test the {tn}",
    "install the new {tn}", "remove the {ta} {tn}", "back up the {tn}",
    "clear the {tn}", "connect the {tn}", "unplug the {tn}",
]

UNITS = [("metre", "metres"), ("kilometre", "kilometres"), ("mile", "miles"),
         ("kilogram", "kilograms"), ("gram", "grams"), ("litre", "litres"),
         ("second", "seconds"), ("minute", "minutes"), ("hour", "hours"), ("day", "days"),
         ("week", "weeks"), ("year", "years"), ("degree", "degrees"), ("volt", "volts"),
         ("hertz", "hertz"), ("kilohertz", "kilohertz"), ("millisecond", "milliseconds"),
         ("megabyte", "megabytes"), ("gigabyte", "gigabytes"), ("percent", "percent")]

CURRENCIES = [("dollar", "dollars", "cent", "cents"), ("pound", "pounds", "penny", "pence"),
              ("euro", "euros", "cent", "cents")]

_IRREGULAR_PLURALS = {"mouse": "mice", "sheep": "sheep", "deer": "deer", "goose": "geese",
                      "wolf": "wolves", "fish": "fish", "knife": "knives"}


def plural(noun: str) -> str:
    """English plural of a noun from the lists above."""
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


# ---------------------------------------------------------------------------------------------
# Phrase builders


class _Phrases:
    """Phrase builders sharing one random generator, so a seed fixes every choice."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, items):
        return self.rng.choice(items)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def number(self, low: int, high: int) -> str:
        return number_words(self.rng.randint(low, high), british_and=self.chance(0.3))

    def plural_count(self, low: int, high: int):
        n = self.rng.randint(low, high)
        return n, number_words(n, british_and=self.chance(0.3))

    def noun_phrase(self, nouns=None) -> str:
        noun = self.pick(nouns or OBJECTS)
        determiner = self.pick(["the", "the", "a", "my", "your", "her", "his", "our", "that",
                                "this", "their"])
        if determiner == "a" and noun[0] in "aeiou":
            determiner = "an"
        if self.chance(0.45):
            adjective = self.pick(ADJECTIVES)
            if determiner in ("a", "an"):
                determiner = "an" if adjective[0] in "aeiou" else "a"
            return f"{determiner} {adjective} {noun}"
        return f"{determiner} {noun}"

    def person(self) -> str:
        roll = self.rng.random()
        if roll < 0.45:
            return self.pick(FIRST_NAMES).capitalize()
        if roll < 0.6:
            return f"{self.pick(FIRST_NAMES).capitalize()} {self.pick(SURNAMES).capitalize()}"
        if roll < 0.8:
            return f"the {self.pick(PROFESSIONS)}"
        return f"{self.pick(['my', 'our', 'your', 'the old', 'the new'])} " \
               f"{self.pick(['neighbour', 'friend', 'brother', 'sister', 'uncle', 'aunt'])}"

    def clock_time(self) -> str:
        hour = self.rng.randint(1, 12)
        minute = self.pick([0, 0, 5, 10, 15, 20, 25, 30, 30, 35, 40, 45, 50, 55,
                            self.rng.randint(1, 59)])
        hour_words = number_words(hour)
        style = self.rng.random()
        if minute == 0:
            text = self.pick([f"{hour_words} o'clock", f"{hour_words} o'clock",
                              f"{hour_words}"])
        elif style < 0.5 and minute % 5 == 0:
            next_hour = number_words(hour % 12 + 1)
            names = {15: "quarter past", 30: "half past", 45: "quarter to"}
            if minute in names:
                target = next_hour if minute == 45 else hour_words
                text = f"{names[minute]} {target}"
            elif minute < 30:
                text = f"{number_words(minute)} past {hour_words}"
            else:
                text = f"{number_words(60 - minute)} to {next_hour}"
        elif minute < 10:
            text = f"{hour_words} oh {number_words(minute)}"
        else:
            text = f"{hour_words} {number_words(minute)}"
        if self.chance(0.35):
            text += " " + self.pick(["in the morning", "in the afternoon", "in the evening",
                                     "at night", "tonight", "sharp"])
        return text

    def year(self) -> str:
        year = self.rng.randint(1900, 2039)
        century, rest = divmod(year, 100)
        if 2000 <= year <= 2009 or (year >= 2010 and self.chance(0.3)):
            return number_words(year, british_and=self.chance(0.5))
        if rest == 0:
            return f"{number_words(century)} hundred"
        if rest < 10:
            return f"{number_words(century)} oh {number_words(rest)}"
        return f"{number_words(century)} {number_words(rest)}"

    def date(self) -> str:
        month_index = self.rng.randrange(12)
        month = MONTHS[month_index].capitalize()
        day = ordinal_words(self.rng.randint(1, MONTH_DAYS[month_index]))
        style = self.rng.random()
        if style < 0.4:
            text = f"the {day} of {month}"
        elif style < 0.75:
            text = f"{month} {day}"
        else:
            text = f"{self.pick(WEEKDAYS).capitalize()} the {day} of {month}"
        if self.chance(0.3):
            text += " " + self.year()
        return text

    def address(self) -> str:
        number = self.number(1, 999) if self.chance(0.8) else self.number(1000, 2500)
        street = f"{self.pick(STREETS).capitalize()} {self.pick(STREET_KINDS).capitalize()}"
        if self.chance(0.3):
            return f"{number} {street}, {self.pick(PLACES).capitalize()}"
        return f"{number} {street}"

    def phone_digits(self) -> str:
        digits = [self.rng.randint(0, 9) for _ in range(self.rng.randint(5, 8))]
        zero = self.pick(["zero", "oh"])
        words = [zero if d == 0 else number_words(d) for d in digits]
        cut = self.rng.randint(2, len(words) - 2)
        return " ".join(words[:cut]) + ", " + " ".join(words[cut:])

    def money(self) -> str:
        major, majors, minor, minors = self.pick(CURRENCIES)
        amount = self.rng.choice([self.rng.randint(1, 20), self.rng.randint(1, 999),
                                  self.rng.randint(1000, 50000)])
        text = f"{number_words(amount, self.chance(0.3))} {major if amount == 1 else majors}"
        if self.chance(0.4):
            small = self.rng.randint(1, 99)
            text += f" and {number_words(small)} {minor if small == 1 else minors}"
        return text

    def measurement(self) -> str:
        singular, plural = self.pick(UNITS)
        if self.chance(0.25):
            whole, tenth = self.rng.randint(0, 99), self.rng.randint(1, 9)
            return f"{number_words(whole)} point {number_words(tenth)} {plural}"
        amount = self.rng.choice([self.rng.randint(1, 12), self.rng.randint(1, 100),
                                  self.rng.choice([128, 256, 512, 1024, 2048, 4096, 8000,
                                                   16000, 22050, 44100, 48000])])
        return f"{number_words(amount, self.chance(0.3))} {singular if amount == 1 else plural}"


# ---------------------------------------------------------------------------------------------
# Templates: each returns display text (capitalisation and punctuation are added later).


def _statement_past(p: _Phrases) -> str:
    verb = p.pick(TRANSITIVE_VERBS)
    text = f"{p.person()} {verb[1]} {p.noun_phrase()}"
    if p.chance(0.5):
        text += f" {p.pick(['in', 'near', 'behind', 'outside', 'beside'])} the " \
                f"{p.pick(ROOMS + PLACES_IN_TOWN)}"
    if p.chance(0.25):
        text += f" {p.pick(ADVERBS)}"
    return text + "."


def _statement_present(p: _Phrases) -> str:
    verb = p.pick(INTRANSITIVE_VERBS)
    subject = p.pick(["I", "we", "they", "you"])
    helper = {"I": "am", "we": "are", "they": "are", "you": "are"}[subject]
    contracted = {"I": "I'm", "we": "we're", "they": "they're", "you": "you're"}[subject]
    head = contracted if p.chance(0.5) else f"{subject} {helper}"
    tail = p.pick([f"at the {p.pick(PLACES_IN_TOWN)}", f"in {p.pick(PLACES).capitalize()}",
                   "this week", "right now", f"until {p.clock_time()}", "with my family",
                   f"on {p.pick(WEEKDAYS).capitalize()}"])
    return f"{head} {verb[2]} {tail}."


def _statement_habit(p: _Phrases) -> str:
    verb = p.pick(INTRANSITIVE_VERBS + TRANSITIVE_VERBS)
    obj = f" {p.noun_phrase()}" if verb in TRANSITIVE_VERBS else ""
    when = p.pick(["every morning", "every evening", "on weekends", "twice a week",
                   f"every {p.pick(WEEKDAYS).capitalize()}", "after lunch", "before breakfast",
                   "in the summer", "in the winter"])
    return f"{p.person()} {p.pick(ADVERBS + [''] * 8)} {verb[3]}{obj} {when}."


def _statement_description(p: _Phrases) -> str:
    noun = p.pick(OBJECTS + ANIMALS + ROOMS)
    adjectives = p.rng.sample(ADJECTIVES, 2)
    return p.pick([
        f"the {noun} is {adjectives[0]} and {adjectives[1]}.",
        f"that {noun} looks very {adjectives[0]} today.",
        f"the {adjectives[0]} {noun} was {p.pick(['never', 'always', 'not', 'still'])} "
        f"{adjectives[1]}.",
        f"I think the {noun} is too {adjectives[0]}.",
        f"there's a {adjectives[0]} {noun} in the {p.pick(ROOMS)}.",
        f"it's a {adjectives[0]} {noun}, but it isn't {adjectives[1]}.",
    ])


def _question(p: _Phrases) -> str:
    verb = p.pick(TRANSITIVE_VERBS)
    return p.pick([
        f"did you {verb[0]} {p.noun_phrase()}?",
        f"where did {p.person()} put {p.noun_phrase()}?",
        f"have you seen {p.noun_phrase()} anywhere?",
        f"can we {verb[0]} {p.noun_phrase()} {p.pick(['tomorrow', 'later', 'today', 'now'])}?",
        f"how many {plural(p.pick(ANIMALS))} can you see?",
        f"what time does the {p.pick(PLACES_IN_TOWN)} open?",
        f"is it far from {p.pick(PLACES).capitalize()} to {p.pick(PLACES).capitalize()}?",
        f"why is the {p.pick(OBJECTS)} so {p.pick(ADJECTIVES)}?",
        f"who left {p.noun_phrase()} in the {p.pick(ROOMS)}?",
        f"would you like some {p.pick(FOODS)}?",
        f"could you {verb[0]} {p.noun_phrase()} for me, please?",
        f"does the train to {p.pick(PLACES).capitalize()} leave at {p.clock_time()}?",
        f"which {p.pick(['colour', 'one', 'size'])} do you prefer?",
        f"aren't you coming to the {p.pick(PLACES_IN_TOWN)} with us?",
    ])


def _shopping_list(p: _Phrases) -> str:
    items = p.rng.sample(FOODS, p.rng.randint(2, 5))
    listed = ", ".join(items[:-1]) + f" and {items[-1]}"
    opener = p.pick(["please buy", "we need", "don't forget the", "I bought",
                     "the recipe needs", "we're out of"])
    return f"{opener} {listed}."


def _animal_list(p: _Phrases) -> str:
    items = p.rng.sample(ANIMALS, p.rng.randint(2, 4))
    listed = ", ".join(f"a {a}" if a[0] not in "aeiou" else f"an {a}" for a in items[:-1])
    last = items[-1]
    listed += f" and {'an' if last[0] in 'aeiou' else 'a'} {last}"
    return f"{p.pick(['we saw', 'the children drew', 'the farm has', 'I heard'])} {listed}."


def _counting(p: _Phrases) -> str:
    n, words = p.plural_count(2, 999)
    noun = p.pick(ANIMALS + ["book", "chair", "ticket", "letter", "box", "bottle", "car"])
    plural_noun = plural(noun)
    return p.pick([
        f"there are {words} {plural_noun} in the {p.pick(ROOMS + PLACES_IN_TOWN)}.",
        f"we counted {words} {plural_noun} yesterday.",
        f"{p.person()} has {words} {plural_noun}.",
        f"about {words} people came to the {p.pick(PLACES_IN_TOWN)}.",
        f"the score was {p.number(0, 9)} to {p.number(0, 9)}.",
        f"page {p.number(1, 400)}, line {p.number(1, 40)}.",
        f"it costs {p.money()}.",
        f"I paid {p.money()} for {p.noun_phrase()}.",
    ])


def _time_phrase(p: _Phrases) -> str:
    return p.pick([
        f"the meeting starts at {p.clock_time()}.",
        f"let's meet at {p.clock_time()} near the {p.pick(PLACES_IN_TOWN)}.",
        f"the train leaves at {p.clock_time()}.",
        f"my alarm went off at {p.clock_time()}.",
        f"it's {p.clock_time()} already.",
        f"the shop closes at {p.clock_time()} on {p.pick(WEEKDAYS).capitalize()}s.",
        f"I'll call you back at {p.clock_time()}.",
    ])


def _date_phrase(p: _Phrases) -> str:
    return p.pick([
        f"her birthday is on {p.date()}.",
        f"the festival begins on {p.date()}.",
        f"we moved to {p.pick(PLACES).capitalize()} in {p.year()}.",
        f"the bridge was built in {p.year()}.",
        f"the deadline is {p.date()}.",
        f"they got married on {p.date()}.",
        f"school starts again on {p.date()}.",
    ])


def _address_phrase(p: _Phrases) -> str:
    return p.pick([
        f"I live at {p.address()}.",
        f"please send the parcel to {p.address()}.",
        f"the office moved to {p.address()}.",
        f"turn left after {p.address()}.",
        f"the number is {p.phone_digits()}.",
        f"call me on {p.phone_digits()}.",
    ])


def _measurement_phrase(p: _Phrases) -> str:
    return p.pick([
        f"the box weighs {p.measurement()}.",
        f"it's {p.measurement()} from here.",
        f"set the value to {p.measurement()}.",
        f"the reading was {p.measurement()}.",
        f"tomorrow will be {p.pick(WEATHER)} with a high of {p.number(-5, 35)} degrees.",
        f"the temperature dropped to {p.number(-20, 10)} degrees last night.",
    ])


def _technical(p: _Phrases) -> str:
    action = p.pick(TECH_ACTIONS).format(tn=p.pick(TECH_NOUNS), ta=p.pick(TECH_ADJECTIVES))
    return p.pick([
        f"please {action}.",
        f"{action} before you {p.pick(['leave', 'start', 'log out', 'go home'])}.",
        f"the {p.pick(TECH_NOUNS)} uses {p.measurement()}.",
        f"set the sample rate to {p.pick(['sixteen', 'eight', 'forty eight', 'twenty two'])}"
        f" kilohertz.",
        f"the {p.pick(TECH_ADJECTIVES)} {p.pick(TECH_NOUNS)} stopped responding.",
        f"latency dropped below {p.number(1, 50)} milliseconds.",
        f"the model has {p.number(2, 48)} layers and {p.number(2, 500)} thousand parameters.",
        f"error {p.number(1, 999)} on the {p.pick(TECH_NOUNS)}.",
        f"the {p.pick(TECH_NOUNS)} is full, so {action}.",
        f"version {p.number(1, 20)} point {p.number(0, 30)} fixed the {p.pick(TECH_NOUNS)}.",
        f"the {p.pick(TECH_NOUNS)} on channel {p.number(1, 64)} is {p.pick(TECH_ADJECTIVES)}.",
    ])


def _instruction(p: _Phrases) -> str:
    verb = p.pick(TRANSITIVE_VERBS)
    return p.pick([
        f"{verb[0]} {p.noun_phrase()} to the {p.pick(ROOMS)}.",
        f"please {verb[0]} {p.noun_phrase()}.",
        f"don't {verb[0]} {p.noun_phrase()} {p.pick(['yet', 'today', 'again', 'now'])}.",
        f"turn {p.pick(['off', 'on'])} the lights in the {p.pick(ROOMS)}.",
        f"take the {p.pick(['first', 'second', 'third', 'next'])} "
        f"{p.pick(['left', 'right'])} after the {p.pick(PLACES_IN_TOWN)}.",
        f"wait here until {p.clock_time()}.",
        f"put the {p.pick(COLOURS)} {p.pick(OBJECTS)} on the "
        f"{p.pick(['table', 'shelf', 'desk', 'floor'])}.",
    ])


def _narrative(p: _Phrases) -> str:
    a, b = p.pick(INTRANSITIVE_VERBS), p.pick(TRANSITIVE_VERBS)
    return p.pick([
        f"when {p.person()} {a[1]}, everyone {b[1]} {p.noun_phrase()}.",
        f"after the {p.pick(['storm', 'party', 'concert', 'game', 'lesson'])}, "
        f"we {a[1]} {p.pick(ADVERBS)}.",
        f"the {p.pick(ANIMALS)} {a[1]} {p.pick(ADVERBS)} while the {p.pick(ANIMALS)} "
        f"{p.pick(['watched', 'waited', 'slept'])}.",
        f"if it's {p.pick(WEATHER)} tomorrow, we'll {a[0]} to the {p.pick(PLACES_IN_TOWN)}.",
        f"{p.person()} said that the {p.pick(OBJECTS)} was {p.pick(ADJECTIVES)}.",
        f"we {a[1]} to {p.pick(PLACES).capitalize()} and {b[1]} {p.noun_phrase()}.",
        f"the {p.pick(PROFESSIONS)} {b[1]} {p.noun_phrase()} and {a[1]}.",
    ])


TEMPLATES: List[Callable[[_Phrases], str]] = [
    _statement_past, _statement_past, _statement_present, _statement_habit,
    _statement_description, _question, _question, _shopping_list, _animal_list, _counting,
    _time_phrase, _date_phrase, _address_phrase, _measurement_phrase, _technical,
    _technical, _instruction, _narrative, _narrative,
]


def _tidy(display: str) -> str:
    """Collapse spaces, remove space before punctuation and capitalise the first letter."""
    display = re.sub(r"\s+", " ", display).strip()
    display = re.sub(r" ([,.?!])", r"\1", display)
    return display[:1].upper() + display[1:]


@dataclass(frozen=True)
class Sentence:
    """One generated sentence: what the engine reads and what the recogniser should output."""
    display: str
    text: str
    sentence_id: str
    split: str
    template: str


class SentenceGenerator:
    """Endless, reproducible stream of sentences for one seed."""

    def __init__(self, seed: int):
        digest = hashlib.sha256(f"sentences-v1:{seed}".encode("utf-8")).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "little"))
        self.phrases = _Phrases(self.rng)

    def next(self) -> Sentence:
        while True:
            template = self.rng.choice(TEMPLATES)
            display = _tidy(template(self.phrases))
            text = normalise(display)
            if MIN_WORDS <= len(text.split()) <= MAX_WORDS:
                return Sentence(display, text, sentence_id(text), split_of(text),
                                template.__name__.lstrip("_"))

    def __iter__(self) -> Iterator[Sentence]:
        while True:
            yield self.next()


def sentences_for_split(split: str, seed: int, count: int,
                        exclude_ids: Optional[set] = None) -> List[Sentence]:
    """`count` distinct sentences of one split, in generation order for this seed."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    seen = set(exclude_ids or ())
    chosen: List[Sentence] = []
    attempts = 0
    for sentence in SentenceGenerator(seed):
        attempts += 1
        if attempts > 1000 * (count + 10):
            raise RuntimeError(f"could not find {count} distinct {split} sentences")
        if sentence.split != split or sentence.sentence_id in seen:
            continue
        seen.add(sentence.sentence_id)
        chosen.append(sentence)
        if len(chosen) == count:
            break
    return chosen


if __name__ == "__main__":
    for example in sentences_for_split("train", 0, 20):
        print(f"{example.template:22s} {example.display}")
