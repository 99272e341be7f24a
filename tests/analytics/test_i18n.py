"""Every text of the analytics part exists in German."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from cx_sdk.widgets import i18n

PART = Path(__file__).resolve().parents[2] / "cx_sdk" / "analytics"


def test_every_dashboard_text_has_a_german_translation() -> None:
    german = i18n.translations("de")
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    ids = set()
    for _, _, message, _, _ in extract_from_dir(str(PART), method_map, options):
        ids.add(message if isinstance(message, str) else message[0])
    assert len(ids) > 80
    # Some msgids read the same in both languages ("Dashboard", "Champions", "n = %(n)s").
    same = {"Dashboard", "Champions", "Net Promoter Score (NPS)", "Segment", "Chats"}
    same |= {"%(n)s s", "%(n)s min", "n = %(n)s"}
    untranslated = sorted(m for m in ids if german.gettext(m) == m and m not in same)
    assert untranslated == []
