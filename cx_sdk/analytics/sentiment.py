"""A rule-based sentiment scorer for short German and English shop comments.

No model, no download: our own word lists (``lexicon/de.txt``, ``lexicon/en.txt``) give each
word or phrase a weight from −3 to +3, and a few rules adjust it:

- negation flips and dampens a weight: a negator up to three words before it in the same
  clause ("nicht gut", "not bad"), or, as German puts it, at the end of the clause after it
  ("gefällt mir nicht");
- intensifiers ("sehr", "really") and dampeners ("etwas", "a bit") scale the next weight;
- after "aber"/"but" the clause counts more than before it;
- praise inside a question counts little ("Ist der Rucksack wasserdicht?");
- shop phrases are single entries ("zu spät", "schnell geliefert", "never arrived"), matched
  before single words;
- a word not in the lists is looked up again as what it is built from, so the lists need one
  entry per word, not per form: without an inflection ending ("nette" → "nett", "stains" →
  "stain"), without a negating prefix, which flips it ("unvollständig", "dissatisfied",
  "inkompetent"), and, for German compounds, by a stem at its end ("Lieferverzögerung" →
  "verzöger*", "blitzschnell" → "schnell*"). Only stems (entries ending in ``*``) match inside
  a compound: a plain word such as "klasse" must not make "Preisklasse" praise.

A comment is negative at a score ≤ −0.5, positive at ≥ 0.5, neutral between. The negative
"drivers" are the entries that pulled a negative comment down: the dashboard counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

LEXICON_DIR = Path(__file__).parent / "lexicon"
NEGATION_FACTOR = -0.8
QUESTION_FACTOR = 0.2
THRESHOLD = 0.5
WINDOW = 3
_TOKEN = re.compile(
    r"[a-zäöüß]+(?:'[a-z]+)?|[.!?;,]|:-?[()]|[\U0001F300-\U0001FAFF\u2600-\u27BF]", re.I
)
CLAUSE_END = frozenset(".!?;,")
CONTRAST = frozenset({"aber", "jedoch", "but", "however", "allerdings", "though"})
# Inflection endings tried longest first, each with what replaces it ("happily" → "happy").
ENDINGS = (
    ("ieren", ""), ("sten", ""), ("ste", ""), ("ten", ""), ("ies", "y"), ("ied", "y"),
    ("ily", "y"), ("ing", ""), ("ing", "e"), ("est", ""), ("en", ""), ("er", ""), ("es", ""),
    ("em", ""), ("ed", ""), ("ed", "e"), ("ly", ""), ("te", ""), ("st", ""), ("e", ""),
    ("n", ""), ("s", ""), ("t", ""), ("d", ""),
)  # fmt: skip
NEGATING_PREFIXES = ("un", "dis", "in", "im", "non")
MIN_STEM = 3  # what is left after stripping an ending or a prefix
MIN_HEAD = 4  # the shortest stem that may end a compound


@dataclass(frozen=True)
class Lexicon:
    words: dict[str, float]
    stems: tuple[tuple[str, float], ...]  # longest first
    phrases: dict[str, list[tuple[tuple[str, ...], float]]]  # first token → phrases, longest first
    longest_phrase: int
    negators: frozenset[str]
    intensifiers: dict[str, float]
    # token → weight or None, filled as words are met: comments repeat their words.
    weights: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    score: float
    label: str
    negative_drivers: tuple[str, ...]
    positive_drivers: tuple[str, ...]


def _parse(text: str) -> tuple[list[tuple[str, float]], set[str], dict[str, float]]:
    entries: list[tuple[str, float]] = []
    negators: set[str] = set()
    intensifiers: dict[str, float] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "negators":
            negators.add(line)
            continue
        term, _, weight = line.rpartition(" ")
        if section == "intensifiers":
            if " " in term:
                raise ValueError(f"an intensifier is one word: {term!r}")
            intensifiers[term] = float(weight)
        else:
            entries.append((term, float(weight)))
    return entries, negators, intensifiers


@cache
def lexicon() -> Lexicon:
    """Both languages in one: comments mix them, and no word is in both lists with two
    meanings that matter here."""
    words: dict[str, float] = {}
    stems: list[tuple[str, float]] = []
    phrases: dict[tuple[str, ...], float] = {}
    negators: set[str] = set()
    intensifiers: dict[str, float] = {}
    seen: dict[str, str] = {}  # a second entry would silently override the first
    for path in sorted(LEXICON_DIR.glob("*.txt")):
        entries, negs, ints = _parse(path.read_text(encoding="utf-8"))
        negators |= negs
        intensifiers.update(ints)
        for term, weight in entries:
            if term in seen:
                raise ValueError(f"listed twice: {term!r} ({seen[term]} and {path.name})")
            seen[term] = path.name
            parts = tuple(term.split())
            if len(parts) > 1:
                phrases[parts] = weight
            elif term.endswith("*"):
                stems.append((term[:-1], weight))
            else:
                words[term] = weight
    stems.sort(key=lambda item: -len(item[0]))
    by_first: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    for phrase, weight in sorted(phrases.items(), key=lambda item: -len(item[0])):
        if phrase[0].endswith("*"):
            raise ValueError(f"a phrase must start with a whole word: {' '.join(phrase)!r}")
        by_first.setdefault(phrase[0], []).append((phrase, weight))
    return Lexicon(
        words=words,
        stems=tuple(stems),
        phrases=by_first,
        longest_phrase=max((len(p) for p in phrases), default=1),
        negators=frozenset(negators),
        intensifiers=intensifiers,
    )


def tokens(text: str) -> list[str]:
    return [token.lower() for token in _TOKEN.findall(text)]


def _word_weight(lex: Lexicon, token: str) -> float | None:
    """The weight of a single word, or None when it carries none. Cached: ingest scores every
    comment, and shop comments repeat their words."""
    cache = lex.weights
    if token in cache:
        return cache[token]
    if len(cache) > 50_000:
        cache.clear()
    weight = _derived_weight(lex, token)
    cache[token] = weight
    return weight


def _listed_weight(lex: Lexicon, token: str) -> float | None:
    """The word as listed, as a stem's form, or a listed word with an inflection ending."""
    if token in lex.words:
        return lex.words[token]
    for stem, weight in lex.stems:
        if token.startswith(stem):
            return weight
    for ending, replacement in ENDINGS:
        if token.endswith(ending) and len(token) - len(ending) >= MIN_STEM:
            base = token[: -len(ending)] + replacement
            if base in lex.words:
                return lex.words[base]
    return None


def _derived_weight(lex: Lexicon, token: str) -> float | None:
    found = _listed_weight(lex, token)
    if found is not None:
        return found
    for prefix in NEGATING_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= MIN_STEM + 1:
            base = _listed_weight(lex, token[len(prefix) :])
            if base:
                return -base  # "unvollständig", "dissatisfied", "inexpensive"
    # German compounds end in their head: "Lieferverzögerung", "Transportschaden".
    for start in range(MIN_STEM, len(token) - MIN_HEAD + 1):
        head = token[start:]
        for stem, weight in lex.stems:
            if len(stem) >= MIN_HEAD and head.startswith(stem):
                return weight
    return None


def _token_matches(pattern: str, token: str) -> bool:
    return token.startswith(pattern[:-1]) if pattern.endswith("*") else token == pattern


def _phrase_at(lex: Lexicon, words: list[str], start: int) -> tuple[int, float] | None:
    """The longest phrase starting at ``start``."""
    for phrase, weight in lex.phrases.get(words[start], ()):
        window = words[start : start + len(phrase)]
        if len(window) == len(phrase) and all(
            _token_matches(p, t) for p, t in zip(phrase[1:], window[1:], strict=True)
        ):
            return len(phrase), weight
    return None


def _negation(lex: Lexicon, words: list[str], start: int, end: int, floor: int) -> str | None:
    """How the hit reads negated ("nicht gut", "gefällt … nicht"), or None when it is not: a
    negator shortly before it in its clause, or closing the clause after it. Words before
    ``floor`` belong to an earlier hit: the "ohne" of "ohne Grund storniert" is spent."""
    term = " ".join(words[start:end])
    if not term[0].isalpha():
        return None  # an emoji or emoticon says what it says: "nichts :(" is not praise
    for position in range(start - 1, max(floor - 1, start - 1 - WINDOW), -1):
        if words[position] in CLAUSE_END or words[position] in CONTRAST:
            break
        if words[position] in lex.negators:
            return f"{words[position]} {term}"
    for position in range(end, min(len(words), end + WINDOW)):
        word = words[position]
        if word in CLAUSE_END or word in CONTRAST:
            return None
        if word in lex.negators:
            following = words[position + 1] if position + 1 < len(words) else "."
            closes = following in CLAUSE_END or following in {"mehr", "so", "wirklich"}
            return f"{term} … {word}" if closes else None
        if _word_weight(lex, word) is not None:
            return None
    return None


def _ends_in_question(words: list[str], start: int) -> bool:
    for word in words[start:]:
        if word in CLAUSE_END:
            return word == "?"
    return False


def score(text: str) -> Scored:
    lex = lexicon()
    words = tokens(text)
    total = 0.0
    negative: list[str] = []
    positive: list[str] = []
    boost = 1.0
    clause_weight = 1.0
    contributions: list[tuple[int, float]] = []  # clause index, value
    clause = 0
    position = 0
    floor = 0  # where the last hit ended
    while position < len(words):
        word = words[position]
        if word in CONTRAST:
            # What came before a "but" counts less, what follows counts more.
            contributions = [(c, v * 0.5) for c, v in contributions]
            clause_weight = 1.5
            clause += 1
            position += 1
            continue
        if word in CLAUSE_END:
            boost = 1.0
            position += 1
            continue
        following = words[position + 1] if position + 1 < len(words) else "."
        if word in lex.intensifiers and following not in CLAUSE_END:
            boost *= lex.intensifiers[word]
            position += 1
            continue
        hit = _phrase_at(lex, words, position)
        if hit is not None:
            length, weight = hit
        else:
            found = _word_weight(lex, word)
            if found is None:
                position += 1
                continue
            length, weight = 1, found
        term = " ".join(words[position : position + length])
        value = weight * boost
        negated = _negation(lex, words, position, position + length, floor)
        if negated is not None:
            value *= NEGATION_FACTOR
            term = negated
        value *= clause_weight
        if value > 0 and _ends_in_question(words, position + length):
            value *= QUESTION_FACTOR  # "Ist der Rucksack wasserdicht?" asks, it does not praise
        contributions.append((clause, value))
        if value < 0:
            negative.append(term)
        elif value > 0:
            positive.append(term)
        boost = 1.0
        position += length
        floor = position
    if "!" in words and contributions:
        contributions = [(c, v * 1.2) for c, v in contributions]
    total = sum(v for _, v in contributions)
    label = "negative" if total <= -THRESHOLD else "positive" if total >= THRESHOLD else "neutral"
    return Scored(
        score=round(total, 3),
        label=label,
        negative_drivers=tuple(dict.fromkeys(negative)),
        positive_drivers=tuple(dict.fromkeys(positive)),
    )
