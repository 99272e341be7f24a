"""The rule-based sentiment scorer on German and English shop comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from cx_sdk.analytics.sentiment import score

HERE = Path(__file__).parent


def _labelled(name: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in (HERE / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            lang, label, text = line.split("\t")
            rows.append((lang, label, text))
    return rows


def _accuracy(rows: list[tuple[str, str, str]]) -> float:
    return sum(score(text).label == label for _, label, text in rows) / len(rows)


def test_accuracy_on_the_labelled_set_is_at_least_85_percent_in_each_language() -> None:
    rows = _labelled("sentiment_labelled.tsv")
    assert len(rows) >= 200
    assert {lang for lang, _, _ in rows} == {"de", "en"}
    overall = _accuracy(rows)
    by_language = {lang: _accuracy([r for r in rows if r[0] == lang]) for lang in ("de", "en")}
    print(f"sentiment accuracy: {overall:.1%} overall, {by_language}")
    assert overall >= 0.85
    assert min(by_language.values()) >= 0.85


def _report(name: str, rows: list[tuple[str, str, str]]) -> float:
    accuracy = _accuracy(rows)
    by_language = {
        lang: f"{_accuracy([r for r in rows if r[0] == lang]):.1%}"
        for lang in sorted({r[0] for r in rows})
    }
    print(f"{name}: {accuracy:.1%} of {len(rows)} {by_language}")
    return accuracy


def test_first_held_out_set() -> None:
    """Written after the first word lists were frozen. Its misses (66.7% then) were studied by
    kind to fix the mechanisms (inflections, prefixes, compounds, phrases), so it no longer
    measures new text; the second set below does."""
    rows = _labelled("sentiment_heldout.tsv")
    assert _report("held-out 1 (studied)", rows) >= 0.9


def test_second_held_out_set_labelled_before_the_scorer_saw_it() -> None:
    """Never used for tuning: the honest estimate of how the scorer does on new text (92.7%
    when written). The floor leaves room for word-list changes, not for a broken mechanism."""
    rows = _labelled("sentiment_heldout2.tsv")
    assert len(rows) >= 100
    assert {lang for lang, _, _ in rows} == {"de", "en"}
    assert _report("held-out 2", rows) >= 0.85


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("gut", "positive"),
        ("nicht gut", "negative"),
        ("Das Produkt gefällt mir nicht.", "negative"),
        ("gar nicht schlecht", "positive"),
        ("not bad", "positive"),
        ("not good", "negative"),
        ("no problems at all", "positive"),
        ("keine Probleme", "positive"),
    ],
)
def test_negation_before_and_at_the_end_of_the_clause(text: str, label: str) -> None:
    assert score(text).label == label


def test_intensifiers_and_dampeners_scale_the_next_word() -> None:
    assert score("sehr gut").score > score("gut").score > score("etwas gut").score > 0
    assert score("really bad").score < score("bad").score < score("a bit bad").score < 0


@pytest.mark.parametrize(
    ("text", "label", "driver"),
    [
        ("Die Lieferung kam zu spät", "negative", "zu spät"),
        ("Karton beschädigt", "negative", "beschädigt"),
        ("Transport hat die Flasche beschädigt, sie ist kaputt", "negative", "kaputt"),
        ("Wieder schnell geliefert", "positive", None),
        ("The parcel never arrived", "negative", "never arrived"),
        ("wrong size again", "negative", "wrong size"),
    ],
)
def test_shop_phrases_are_recognised(text: str, label: str, driver: str | None) -> None:
    result = score(text)
    assert result.label == label
    if driver:
        assert driver in result.negative_drivers


def test_what_follows_but_weighs_more() -> None:
    assert score("Gute Schuhe, aber die Lieferung war viel zu spät.").label == "negative"
    assert score("Delivery was a bit slow but the shoes are excellent.").label == "positive"


def test_a_question_about_a_quality_is_not_praise() -> None:
    assert score("Ist der Rucksack wasserdicht?").label == "neutral"
    assert score("Warum ist die Ware kaputt?").label == "negative"


def test_empty_and_unknown_text_is_neutral() -> None:
    assert score("").label == "neutral"
    assert score("Bestellnummer 4711").label == "neutral"
    assert score("🙂").label == "neutral"


def test_negated_drivers_read_as_the_shopper_wrote_them() -> None:
    assert score("Das war nicht gut.").negative_drivers == ("nicht gut",)
    assert score("Das Produkt gefällt mir nicht.").negative_drivers == ("gefällt … nicht",)
    assert score("not helpful at all").negative_drivers == ("not helpful",)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Nasse Kartons", "negative"),  # "nasse" → "nass"
        ("Answered rudely", "negative"),  # "rudely" → "rude"
        ("The seams frayed", "negative"),  # "frayed" → "fray*"
        ("Die Lieferung war unvollständig", "negative"),  # un- flips "vollständig*"
        ("Very dissatisfied", "negative"),  # dis- flips "satisf*"
        ("Die Vase kam unbeschädigt an", "positive"),  # un- flips a negative word too
        ("Wieder eine Lieferverzögerung", "negative"),  # compound head "verzöger*"
        ("Versand war pfeilschnell", "positive"),  # compound head "schnell*"
    ],
)
def test_words_are_found_through_inflections_prefixes_and_compounds(text: str, label: str) -> None:
    assert score(text).label == label


def test_only_stems_match_inside_a_compound() -> None:
    """ "klasse" is a plain word: a price class is not praise, a voucher is not "gut"."""
    assert score("Welche Preisklasse hat das Modell").label == "neutral"
    assert score("Ich habe einen Gutschein").label == "neutral"


def test_a_negator_inside_a_phrase_does_not_negate_the_next_word() -> None:
    result = score("Bestellung wurde ohne Grund storniert.")
    assert result.label == "negative"
    assert "ohne grund" in result.negative_drivers


@pytest.mark.parametrize(
    ("text", "label"),
    [("Paket kam an 😡", "negative"), ("Alles da ❤", "positive"), ("Wieder nichts :(", "negative")],
)
def test_emoji_and_emoticons_carry_a_weight(text: str, label: str) -> None:
    assert score(text).label == label
