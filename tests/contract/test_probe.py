"""`make probe` against the local sandboxes: every read fits the documents, a mistyped field is
reported by name, and nothing secret or personal reaches the output."""

from __future__ import annotations

import pytest

from local import probe


def test_every_read_fits_on_the_local_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.main(["--local"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines()[2:] if line.strip()]
    assert len(rows) == 11 and all(" ok " in f"{row} " for row in rows), out
    for read in ("bg.order.shippinginfo.v2.get", "bg.order.detail.v2.get", "GET sales orders"):
        assert read in out


def test_a_mistyped_field_is_reported_with_its_types_and_no_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.main(["--local", "--mistype", "bg.order.shippinginfo.v2.get:addressLine1"]) == 1
    out = capsys.readouterr().out
    assert "bg.order.shippinginfo.v2.get" in out and "mismatch  addressLine1: expected null|string, got integer" in out
    assert "Main Street" not in out and "12345" not in out  # neither the address nor the odd value


def test_credentials_and_addresses_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with probe.local_sandboxes() as env:
        result = probe.probe(env)
    printed = result.table()
    assert result.all_fit
    for secret in (env["TEMU_ACCESS_TOKEN"], env["TEMU_APP_SECRET"], env["WHOLECELL_APP_SECRET"]):
        assert secret not in printed
    assert "Buyer" not in printed and "Street" not in printed


def test_mistype_is_refused_against_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (*probe.TEMU_KEYS,):
        monkeypatch.setenv(key, "x")
    with pytest.raises(SystemExit):
        probe.main(["--mistype", "bg.order.list.v2.get:totalItemNum"])
