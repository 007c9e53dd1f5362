"""The one name rule: look-alike names are the same person, invisible and format characters are refused."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceapp.errors import BadInputError, NameError_
from faceapp.storage import GalleryRepository, normalize_name
from faceapp.storage.names import MAX_NAME_LENGTH, is_default_ignorable, name_key


@pytest.mark.parametrize(
    "raw",
    [
        "\u200b",  # a name made only of a zero-width space listed as empty before
        "\u200b\u200c\u200d",
        "\ufeff",
        "\u3164",  # Hangul filler: a "letter" that shows as nothing
        "\u00ad",
        "\ufe0f",
        "\U000e0041\U000e0042",
    ],
)
def test_a_name_with_no_visible_character_is_refused(raw: str) -> None:
    with pytest.raises(NameError_):
        normalize_name(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "Ada\u200bLovelace",  # zero-width space
        "Ada\u00adLovelace",  # soft hyphen
        "\ufeffAda",  # byte-order mark
        "Ada\u200e",  # left-to-right mark
        "Ada\u200f",  # right-to-left mark
        "Ada\u2060",  # word joiner
        "Ada\U000e0041",  # a tag character outside a flag
        "\ufe0fAda",  # a variation selector with nothing to select
        "Ada \ufe0f",
    ],
)
def test_invisible_format_characters_are_refused(raw: str) -> None:
    with pytest.raises(NameError_, match="U\\+"):
        normalize_name(raw)


@pytest.mark.parametrize(
    "name",
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 Family",  # ZWJ inside an emoji sequence
        "\U0001f44d\U0001f3fd Thumbs",  # skin-tone modifier
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f England",  # flag tag sequence
        "\u2764\ufe0f Ann",  # emoji presentation selector
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian ZWNJ between letters
        "\u0d28\u0d4d\u200d",  # Malayalam chillu written with ZWJ
        "\u845b\U000e0100",  # an ideographic variation sequence
    ],
)
def test_format_characters_real_names_need_are_kept(name: str) -> None:
    assert normalize_name(name) == name


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Ada", "\uff21\uff44\uff41"),  # fullwidth
        ("Fiona", "\ufb01ona"),  # ligature
        ("Ada Lovelace", "ADA LOVELACE"),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u062e\u0648\u0627\u0647\u0645"),
        ("\u2764\ufe0f Ann", "\u2764 Ann"),
    ],
)
def test_look_alike_names_are_the_same_person(repo: GalleryRepository, first: str, second: str) -> None:
    assert name_key(normalize_name(first)) == name_key(normalize_name(second))
    repo.add_person(first)
    with pytest.raises(BadInputError, match="already exists"):
        repo.add_person(second)
    assert [p.name for p in repo.list_people()] == [normalize_name(first)]


def test_an_old_gallery_gets_its_name_keys_under_the_new_rule(sqlite_repo: GalleryRepository, db_path: Path) -> None:
    repo = sqlite_repo
    import sqlite3

    repo.add_person("\uff21da")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE people SET name_key = '\uff41da'")  # as the first rule (NFC casefold) stored it
    conn.execute("DELETE FROM meta WHERE key = 'name_rule'")
    conn.commit()
    conn.close()
    with pytest.raises(BadInputError, match="already exists"):
        repo.add_person("Ada")


# -- properties -----------------------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(names)
def test_a_name_is_refused_with_name_error_or_comes_back_stable(raw: str) -> None:
    try:
        clean = normalize_name(raw)
    except NameError_ as exc:
        message = str(exc)
        clean = None
    if clean is None:
        assert "\n" not in message
        return
    assert normalize_name(clean) == clean  # idempotent
    assert clean == clean.strip()
    assert len(clean) <= MAX_NAME_LENGTH
    assert unicodedata.is_normalized("NFC", clean)
    assert any(unicodedata.category(c)[0] in "LNPS" and not is_default_ignorable(c) for c in clean)
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp", "Cn") for c in clean)


@settings(max_examples=400, deadline=None)
@given(names)
def test_the_key_ignores_case_width_and_invisibles(raw: str) -> None:
    key = name_key(raw)
    assert name_key(key) == key  # a key is its own key
    assert not any(is_default_ignorable(c) for c in key)
    assert name_key(unicodedata.normalize("NFKC", raw)) == key
    assert name_key("\u200b".join(raw)) == key


def test_two_people_an_old_rule_told_apart_each_keep_getting_their_own_samples(
    sqlite_repo: GalleryRepository, db_path: Path
) -> None:
    repo = sqlite_repo
    import sqlite3

    from tests.storage.storage_fakes import make_sample, unit

    repo.add_person("Ada")
    conn = sqlite3.connect(db_path)  # a gallery written under the first rule, which kept fullwidth apart
    conn.execute(
        "INSERT INTO people(name, name_key, created_at) VALUES (?, ?, '2025-01-01')",
        ("\uff21\uff44\uff41", "\uff41\uff44\uff41"),
    )
    conn.execute("DELETE FROM meta WHERE key = 'name_rule'")
    conn.commit()
    conn.close()
    repo.enroll("\uff21\uff44\uff41", [(make_sample(1), unit(1))], "m")  # the first write re-keys, then enrolls
    counts = {p.name: p.sample_count for p in repo.list_people()}
    assert counts == {"Ada": 0, "\uff21\uff44\uff41": 1}
