"""Name and title folding, with real names from the data."""

from __future__ import annotations

import pytest

from digest.text import latex_to_text, name_key, title_key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ahmet Üstün", "Ahmet Ustun"),  # hf-daily: accents removed
        ("Jerry Yao-Chieh Hu", "Jerry Yaochieh Hu"),  # seed 000: hyphen ignored
        ("Jerry Yao-Chieh Hu", "Jerry Yao Chieh Hu"),  # ... and spacing
        ("jerry yao-chieh hu", "JERRY YAO-CHIEH HU"),  # case
        ("Paulo Andr\\'e Lima de Castro", "Paulo André Lima de Castro"),  # arXiv LaTeX accent
        ("Celestine Mendler-Dünner", "Celestine Mendler Dunner"),
        ("Stephen S. -T. Yau", "Stephen S T Yau"),  # dots ignored
        ("TianQi Hou", "Tianqi Hou"),  # seed 003: inner capital
    ],
)
def test_names_that_fold_together(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)
    assert name_key(b) == name_key(a)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Maojiang Su", "Junwei Su"), ("Yuan Cao", "Yuan Gao"), ("Hao Chen", "Hao Cheng")],
)
def test_different_names_stay_apart(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_title_key_ignores_case_accents_punctuation_and_spacing() -> None:
    spelled_otherwise = "dnabert s — pioneering species"
    assert title_key("DNABERT-S: Pioneering  Species") == title_key(spelled_otherwise)
    assert title_key("Café") == title_key("cafe")
    assert title_key("On Flow Matching KL Divergence") != title_key("On Flow Matching")


def test_title_without_letters_keys_on_itself() -> None:
    assert title_key("???") != title_key("!!!")


def test_latex_to_text_decodes_accents_and_markup() -> None:
    assert latex_to_text("Andr\\'e") == "André"
    assert latex_to_text("\\textbf{Phys4D}") == "Phys4D"
    assert latex_to_text("plain text stays") == "plain text stays"
