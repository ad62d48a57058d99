"""What the NLU is given, whatever a client sends (addons/text.py)."""

from __future__ import annotations

from addons.text import clean_message

LIMIT = 1000  # README: "messages are cut to 1,000 characters before NLU"


def test_an_ordinary_message_is_unchanged() -> None:
    assert clean_message("my boss took my passport") == "my boss took my passport"


def test_control_characters_and_newlines_become_single_spaces() -> None:
    assert clean_message("help\x00\x1b[31m me\r\n\tnow\x7f") == "help [31m me now"


def test_lone_surrogates_are_dropped_so_the_text_can_be_encoded() -> None:
    cleaned = clean_message("help \ud800 me")
    assert cleaned == "help me"
    cleaned.encode("utf-8")


def test_whitespace_only_is_empty() -> None:
    assert clean_message(" \n\t \u3000 ") == ""


def test_a_100_kb_message_is_cut_at_a_word_boundary() -> None:
    message = "they keep our passports " * 5000
    cleaned = clean_message(message)
    assert 800 < len(cleaned) <= LIMIT
    assert message.startswith(cleaned)
    assert cleaned.endswith(("they", "keep", "our", "passports"))


def test_1000_characters_are_kept_and_the_1001st_is_dropped() -> None:
    assert clean_message("a" * LIMIT) == "a" * LIMIT
    assert clean_message("a" * (LIMIT + 1)) == "a" * LIMIT
    words = "word " * (LIMIT // 5)
    assert clean_message(words[:LIMIT]) == words[:LIMIT].rstrip()


def test_a_message_without_spaces_is_cut_hard() -> None:
    assert clean_message("a" * 100_000) == "a" * LIMIT


def test_the_cut_counts_what_is_left_after_cleaning() -> None:
    """Markup and runs of spaces do not use up the 1,000 characters of words."""
    message = "<b>" * 100 + "  \n" * 100 + "x" * LIMIT
    assert clean_message(message) == "x" * LIMIT


def test_emoji_right_to_left_and_comparisons_are_kept() -> None:
    for text in ["🙏🙏", "ساعدني", "i earn < 2 pounds an hour", "3 > 2"]:
        assert clean_message(text) == text


def test_markup_tags_are_dropped_and_the_words_kept() -> None:
    assert clean_message("<b>help</b> my boss <img src=x onerror=alert(1)>has my passport") == (
        "help my boss has my passport"
    )
    assert clean_message("<script>alert('x')</script>") == "alert('x')"
