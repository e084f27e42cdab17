"""The informant key: phone numbers to E.164, a keyed HMAC, and the secret's origin."""

from __future__ import annotations

import json

import pytest

from orchestration.informants import (
    SAMPLE_MANIFEST,
    SAMPLE_SECRET,
    SECRET_VARIABLE,
    SecretMissing,
    informant_key,
    normalise_name,
    normalise_phone,
    resolve_secret,
)


@pytest.mark.parametrize(
    "typed",
    ["+964 750 123 4567", "0750 123 4567", "07501234567", "00964 750 123 4567", "964-750-123-4567"],
)
def test_every_way_of_typing_an_iraqi_mobile_is_one_e164_number(typed):
    assert normalise_phone(typed) == "+9647501234567"


@pytest.mark.parametrize("typed", ["", "   ", "12", "not a number", None, float("nan")])
def test_what_is_not_a_phone_number_is_none(typed):
    assert normalise_phone(typed) is None


def test_one_informant_has_one_key_whatever_the_export_and_the_key_depends_on_the_secret():
    first = informant_key("secret-a", "0750 123 4567", "Ali")
    assert first == informant_key("secret-a", "+964 750 123 4567", "علي")  # the phone decides
    assert first != informant_key("secret-b", "0750 123 4567", "Ali")
    assert len(first) == 32 and "7501234567" not in first


def test_the_name_keys_an_informant_without_a_phone():
    assert normalise_name("  Ali   AL-Jubouri ") == "ali al-jubouri"
    assert normalise_name("عَلي") == normalise_name("علي")  # diacritics do not make a new person
    assert informant_key("s", "", "Ali Al-Jubouri") == informant_key("s", None, "ali  al-jubouri")
    assert informant_key("s", "", "") is None


def test_without_a_secret_only_files_the_sample_wrote_are_keyed(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    (tmp_path / SAMPLE_MANIFEST).write_text(json.dumps({"sample.csv": "aaa"}))
    assert resolve_secret(tmp_path, [("sample.csv", "aaa")])[0] == SAMPLE_SECRET
    with pytest.raises(SecretMissing, match=r"real_export\.csv") as refused:
        resolve_secret(tmp_path, [("sample.csv", "aaa"), ("real_export.csv", "bbb")])
    assert SECRET_VARIABLE in str(refused.value)
    # A sample file edited by hand is no longer the sample's.
    with pytest.raises(SecretMissing):
        resolve_secret(tmp_path, [("sample.csv", "changed")])


def test_a_secret_from_the_environment_keys_any_file(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, "x" * 40)
    secret, origin = resolve_secret(tmp_path, [("real_export.csv", "bbb")])
    assert secret == "x" * 40 and SECRET_VARIABLE in origin and secret not in origin
