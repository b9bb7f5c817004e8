"""统一社会信用代码 (GB 32100-2015) check digit and the password rules."""
import pytest

from app.accounts.validators import USCC_ALPHABET, normalise_uscc, password_problem, uscc_check_char, uscc_problem


def with_check(first17: str) -> str:
    return first17 + uscc_check_char(first17)


# First 17 characters of realistic codes: registration authority + kind, region code, organisation code.
PREFIXES = ["91310000MA1FL8XQ3", "91310104MA1FR0K2X", "12310000425002372", "51310000MJ4953811", "92310115MA1K4R7TX"]


@pytest.mark.parametrize("first17", PREFIXES)
def test_codes_with_their_computed_check_character_are_valid(first17):
    code = with_check(first17)
    assert len(code) == 18
    assert uscc_problem(code) is None


def test_the_demo_enterprise_code_is_valid():
    assert uscc_problem("91310000MA1FL8XQ37") is None


def test_check_character_follows_the_standard_by_hand():
    # Weighted sum mod 31 worked out by hand for a code of zeros and a single 1 in front (weight 1):
    # sum = 1, 31 - 1 = 30 -> alphabet[30] = "Y".
    assert uscc_check_char("1" + "0" * 16) == "Y"
    # Sum divisible by 31 -> check value 0 -> "0".
    assert uscc_check_char("0" * 17) == "0"


@pytest.mark.parametrize("first17", PREFIXES)
def test_any_other_check_character_is_refused(first17):
    right = uscc_check_char(first17)
    for wrong in USCC_ALPHABET:
        if wrong != right:
            assert uscc_problem(first17 + wrong) == "check"


def test_lowercase_and_spaces_are_normalised():
    code = with_check(PREFIXES[0])
    assert normalise_uscc(" " + code.lower()[:9] + " " + code.lower()[9:]) == code
    assert uscc_problem(code.lower()) is None


@pytest.mark.parametrize("value, problem", [
    ("", "length"),
    ("91310000MA1FL8XQ3", "length"),
    ("91310000MA1FL8XQ370", "length"),
    ("91310000MA1FL8XQIO", "characters"),  # I and O are not in the alphabet
    ("91310000MA1FL8XQ3S", "characters"),
])
def test_wrong_shapes(value, problem):
    assert uscc_problem(value) == problem


@pytest.mark.parametrize("password, problem", [
    ("short1", "short"),
    ("x" * 195 + "123456", "long"),
    ("password123", "common"),
    ("onlyletterslong", "mix"),
    ("12345678901234", "mix"),
    ("user9@example.com", "email"),
])
def test_weak_passwords(password, problem):
    assert password_problem(password, "user9@example.com") == problem


def test_a_strong_password_passes():
    assert password_problem("correct-horse-42", "a@b.cn") is None
