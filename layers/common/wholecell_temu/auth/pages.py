"""The small HTML pages the seller sees after authorizing in Temu Seller Center."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;line-height:1.5}}</style>
</head><body><h1>{title}</h1><p>{message}</p>{detail}</body></html>"""


def connected_page(shop_name: str, mall_id: int, missing_scopes: list[str]) -> str:
    detail = ""
    if missing_scopes:
        items = "".join(f"<li><code>{escape(s)}</code></li>" for s in missing_scopes)
        detail = ("<p>Some permissions the integration needs were not granted. Authorize again in Temu "
                  f"Seller Center and include the packages that cover:</p><ul>{items}</ul>")
    return _PAGE.format(title="Temu shop connected",
                        message=f"{escape(shop_name)} is now connected to Temu shop {mall_id}. "
                                "You can close this page.", detail=detail)


def received_page(mall_id: int) -> str:
    return _PAGE.format(title="Temu authorization received",
                        message=f"The authorization of Temu shop {mall_id} was received. The integration's "
                                "operator connects it to your WholeCell account; you can close this page.",
                        detail="")


def error_page(message: str) -> str:
    return _PAGE.format(title="Temu authorization failed", message=escape(message),
                        detail="<p>Nothing was stored. Start the authorization again from the integration; "
                               "the link is valid for 10 minutes.</p>")
