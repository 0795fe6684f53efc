"""API keys: parsing ONLINE_LEARNING_API_KEYS, scopes, and the development key."""

from __future__ import annotations

import stat

import pytest

from online_learning.errors import ConfigError
from serving.auth import ApiKeys, bearer_token, development_key
from tests.utils.api_keys import AGENT, OPS


def test_keys_map_to_their_scopes_and_admin_implies_the_others():
    keys = ApiKeys.parse(f" {AGENT}:predict, feedback ; {OPS}:admin;")
    agent, ops = keys.authenticate(AGENT), keys.authenticate(OPS)
    assert agent.scopes == {"predict", "feedback"}
    assert agent.allows("predict") and not agent.allows("admin")
    assert ops.allows("predict") and ops.allows("feedback") and ops.allows("admin")
    assert keys.authenticate(AGENT[:-1]) is None
    assert keys.authenticate(AGENT + "x") is None
    assert keys.authenticate("") is None and keys.authenticate(None) is None
    assert len(keys) == 2


def test_principal_and_repr_never_carry_the_key():
    keys = ApiKeys.parse(f"{AGENT}:predict")
    principal = keys.authenticate(AGENT)
    assert AGENT not in repr(principal) and AGENT not in repr(keys)
    assert len(principal.fingerprint) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{AGENT}", "entry 1 has no ':'"),
        ("short:predict", "entry 1: a key is 16-256 characters"),
        (f"{AGENT}:predict;{OPS}:trade", "entry 2: scopes must be among"),
        (f"{AGENT}:", "entry 1: scopes must be among"),
        (f"{AGENT}:predict;{AGENT}:admin", "entry 2 repeats an earlier key"),
    ],
)
def test_a_bad_setting_is_refused_by_position_without_echoing_the_key(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        ApiKeys.parse(text)
    assert AGENT not in str(info.value) and OPS not in str(info.value)


def test_bearer_header_parsing():
    assert bearer_token(f"Bearer {AGENT}") == AGENT
    assert bearer_token(f"bearer   {AGENT} ") == AGENT
    assert bearer_token(f"Basic {AGENT}") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_development_key_is_created_once_private_and_then_reused(tmp_path):
    key, created = development_key(tmp_path)
    assert created and key.startswith("dev-")
    path = tmp_path / "api-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = development_key(tmp_path)
    assert (again, created_again) == (key, False)
    assert ApiKeys.parse(f"{key}:admin").authenticate(key).allows("admin")
