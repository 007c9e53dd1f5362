"""Person names: normalisation, what is refused, exact round-trips and case-insensitive uniqueness."""

from __future__ import annotations

import pytest

from faceapp.errors import BadInputError, NameError_, UnknownPersonError
from faceapp.storage import GalleryRepository, normalize_name
from faceapp.storage.names import MAX_NAME_LENGTH, name_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada   Lovelace ", "Ada Lovelace"),
        ("Ada\u00a0\u3000Lovelace", "Ada Lovelace"),  # no-break and ideographic spaces collapse too
        ("Zoe\u0308", "Zoë"),  # NFD input is stored composed (NFC)
        ("O'Brien", "O'Brien"),
        ('Zoë "Z" Ünal', 'Zoë "Z" Ünal'),
        ("李小龙", "李小龙"),
        ("x" * MAX_NAME_LENGTH, "x" * MAX_NAME_LENGTH),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   \u00a0 ", "empty"),
        ("x" * (MAX_NAME_LENGTH + 1), "at most 100 characters"),
        ("Ada\nLovelace", "line breaks"),
        ("Ada\r\nLovelace", "line breaks"),
        ("Ada\u2028Lovelace", "line breaks"),
        ("Ada\tLovelace", "control characters"),
        ("Ada\x00", "control characters"),
        ("Ada\x1b[31m", "control characters"),
        ("evil\u202egnp.exe", "control characters"),  # a bidi override would make the name display reversed
    ],
)
def test_unusable_names_are_refused(raw: str, message: str) -> None:
    with pytest.raises(NameError_, match=message):
        normalize_name(raw)


def test_name_errors_are_bad_input() -> None:
    assert issubclass(NameError_, BadInputError)


def test_name_key_ignores_case_only() -> None:
    assert name_key("ÉMILE Zola") == name_key("émile zola")
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("Emile") != name_key("Émile")


@pytest.mark.parametrize("name", ["O'Brien", 'Zoë "Z" Ünal', "李小龙", "Robert'); DROP TABLE people;--"])
def test_names_round_trip_exactly(repo: GalleryRepository, name: str) -> None:
    person = repo.add_person(name)
    assert person.name == name
    assert repo.get_person(name) == person
    assert [p.name for p in repo.list_people()] == [name]


def test_an_invalid_name_adds_nobody(repo: GalleryRepository) -> None:
    with pytest.raises(NameError_):
        repo.add_person("\n")
    assert repo.counts() == (0, 0)


@pytest.mark.parametrize("duplicate", ["Alice", "alice", "  ALICE "])
def test_a_name_taken_in_any_case_is_refused(repo: GalleryRepository, duplicate: str) -> None:
    repo.add_person("Alice")
    with pytest.raises(BadInputError, match='A person named "Alice" already exists'):
        repo.add_person(duplicate)
    assert [p.name for p in repo.list_people()] == ["Alice"]


def test_rename(repo: GalleryRepository) -> None:
    person = repo.add_person("Jon")
    renamed = repo.rename_person("Jon", "  John  Smith ")
    assert renamed.id == person.id
    assert renamed.name == "John Smith"
    assert repo.get_person("Jon") is None
    assert repo.rename_person(person.id, "John").name == "John"


def test_rename_to_another_case_of_the_same_name_is_allowed(repo: GalleryRepository) -> None:
    person = repo.add_person("mcdonald")
    assert repo.rename_person("mcdonald", "McDonald").name == "McDonald"
    assert repo.person_by_id(person.id) is not None
    assert [p.name for p in repo.list_people()] == ["McDonald"]


def test_rename_onto_someone_else_is_refused(repo: GalleryRepository) -> None:
    repo.add_person("Alice")
    bob = repo.add_person("Bob")
    with pytest.raises(BadInputError, match='"Alice" already exists'):
        repo.rename_person("Bob", "ALICE")
    with pytest.raises(NameError_):
        repo.rename_person(bob.id, "")
    assert [p.name for p in repo.list_people()] == ["Alice", "Bob"]


def test_rename_unknown_person(repo: GalleryRepository) -> None:
    with pytest.raises(UnknownPersonError, match="Nobody"):
        repo.rename_person("Nobody", "Somebody")
    with pytest.raises(UnknownPersonError):
        repo.rename_person(99, "Somebody")
    assert repo.counts() == (0, 0)


def test_people_are_found_by_name_in_any_case_for_changes(repo: GalleryRepository) -> None:
    repo.add_person("Émile")
    assert repo.rename_person("émile", "Emil").name == "Emil"
    assert repo.remove_person("EMIL") == 0
    assert repo.counts() == (0, 0)
