"""Token verification and its cache: a cached token is still refused after it expires or under another secret."""

import time

import jwt
import pytest

from services.kit.auth import decode_token, mint_token
from services.kit.problems import Problem

SECRET = "s" * 32


def test_a_verified_token_is_remembered_only_until_it_expires():
    token = mint_token(SECRET, sub="crm-1", roles=["intake"], ttl_seconds=2)
    assert decode_token(SECRET, token).sub == "crm-1"
    assert decode_token(SECRET, token) is decode_token(SECRET, token)  # verified once, then remembered
    time.sleep(2.1)
    with pytest.raises(Problem) as refused:
        decode_token(SECRET, token)
    assert refused.value.status == 401 and "expired" in refused.value.detail.lower()


def test_a_remembered_token_is_not_accepted_under_another_secret_or_when_tampered():
    token = mint_token(SECRET, sub="crm-2", roles=["intake"])
    decode_token(SECRET, token)
    with pytest.raises(Problem):
        decode_token("t" * 32, token)
    header, payload, signature = token.split(".")
    forged = jwt.encode({"sub": "crm-2", "roles": ["admin"], "exp": int(time.time()) + 60}, "x" * 32).split(".")[1]
    with pytest.raises(Problem):
        decode_token(SECRET, f"{header}.{forged}.{signature}")
