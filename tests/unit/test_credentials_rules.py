"""The webhook secret derivation's refusals, word for word: the operator reads them when a
rotation or a deploy goes wrong."""

from __future__ import annotations

import pytest
from wholecell_temu.domain.credentials import derive_webhook_secret

MASTER = b"m" * 32


def test_an_empty_master_key_is_refused_with_a_plain_message() -> None:
    with pytest.raises(ValueError) as refused:
        derive_webhook_secret(b"", "c1", 1)
    assert str(refused.value) == "the webhook master key is empty"


def test_key_versions_below_one_are_refused_with_a_plain_message() -> None:
    for version in (0, -1):
        with pytest.raises(ValueError) as refused:
            derive_webhook_secret(MASTER, "c1", version)
        assert str(refused.value) == "webhook key versions start at 1"
    assert derive_webhook_secret(MASTER, "c1", 1).startswith("whsec_")  # 1 itself is the first version
