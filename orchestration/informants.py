"""The informant key: a keyed HMAC that lets several reports of one key informant be counted
together while their name and phone number stay in the raw layer.

The key is computed here, in Python, at load time, so the secret never reaches dbt, its
manifest or DuckDB. Phone numbers are normalised to E.164 first (`+964 750 …`, `0750…` and
`00964750…` are one person); the name stands in where there is no phone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import unicodedata
from pathlib import Path

import pandas as pd
import phonenumbers

SECRET_VARIABLE = "DTM_INFORMANT_KEY_SECRET"
# The sample's secret is public on purpose (README): it keys made-up people only. A landing
# folder holding anything the sample generator did not write is refused without a real secret.
SAMPLE_SECRET = "dtm-sample-informant-key-not-secret"
SAMPLE_MANIFEST = ".dtm-sample-manifest.json"
DEFAULT_REGION = "IQ"
# Arabic diacritics and tatweel: the same name typed with or without them is one name.
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")


class SecretMissing(Exception):
    """Informants' data would be keyed with the public sample secret."""


def normalise_phone(text: object) -> str | None:
    """A phone number in E.164 (+9647501234567), or None when the text is not a valid number."""
    if not isinstance(text, str) or not text.strip():
        return None
    digits = re.sub(r"[^\d+]", "", text)
    # `964 750 …` written without the plus is the country code, not a national number.
    if digits.startswith("964") and len(digits) == 13:
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_name(text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _ARABIC_MARKS.sub("", folded)
    return " ".join(folded.split())


def informant_key(secret: str, phone: object, name: object) -> str | None:
    """HMAC-SHA256 of the E.164 phone number (the name where there is no usable phone)."""
    phone_e164 = normalise_phone(phone)
    identity = f"phone:{phone_e164}" if phone_e164 else None
    if identity is None and (folded := normalise_name(name)):
        identity = f"name:{folded}"
    if identity is None:
        return None
    return hmac.new(secret.encode(), identity.encode(), hashlib.sha256).hexdigest()[:32]


def informant_keys(secret: str, frame: pd.DataFrame) -> list[str | None]:
    """The informant key of every row of a KI export's frame (columns ki_phone, ki_name)."""
    missing = pd.Series(None, index=frame.index, dtype=object)
    phones, names = frame.get("ki_phone", missing), frame.get("ki_name", missing)
    return [informant_key(secret, p, n) for p, n in zip(phones, names, strict=True)]


def sample_digests(landing: Path) -> set[str]:
    """sha256 of every file the sample generator wrote into this landing folder."""
    manifest = landing / SAMPLE_MANIFEST
    if not manifest.exists():
        return set()
    return set(json.loads(manifest.read_text(encoding="utf-8")).values())


def resolve_secret(landing: Path, informant_files: list[tuple[str, str]]) -> tuple[str, str]:
    """The secret to key informants with, and where it came from.

    `informant_files` are (name, sha256) of the files holding personal data. Without the
    environment variable, only files the sample generator wrote may be keyed (with the sample
    secret); anything else is refused, naming the files.
    """
    secret = os.environ.get(SECRET_VARIABLE, "")
    if secret:
        return secret, f"the {SECRET_VARIABLE} environment variable"
    written = sample_digests(landing)
    foreign = [name for name, digest in informant_files if digest not in written]
    if foreign:
        raise SecretMissing(
            f"{len(foreign)} key-informant file(s) were not written by the sample generator "
            f"({', '.join(sorted(foreign)[:5])}{' …' if len(foreign) > 5 else ''}): set {SECRET_VARIABLE} "
            "to a secret of at least 32 characters kept outside the repository, then run again. "
            "Nothing was loaded."
        )
    return SAMPLE_SECRET, "the documented sample secret (sample files only)"
