"""Listings: shops, goods, SKUs and their stock (admin), and the goods, SKU and stock APIs."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from local.sandboxes.temu.rooms.auth import AuthRoom
from local.sandboxes.temu.rooms.records import (
    ACTIVE,
    DELETED,
    INACTIVE,
    MAX_PAGE_SIZE,
    ON_SALE,
    REGION_IDS,
    SOLD_OUT,
    STATUS_FILTER,
    STATUS_NAME,
    STATUS_NAMES,
    STOCK_MAX,
    SUB_STATUS_NAME,
    GoodsRecord,
    SandboxError,
    Shop,
    SkuRecord,
    _int,
    _page_size,
)


class GoodsRoom(AuthRoom):
    """Needs `issue_token` (a new shop comes with a token), hence built on the auth room."""

    def _forget(self) -> None:
        super()._forget()
        self.stock_edits: list[dict[str, Any]] = []
        self.used_unique_keys: set[tuple[int, str]] = set()

    # --- admin: shops and listings ------------------------------------------------------------

    def create_shop(
        self,
        *,
        region: str = "US",
        mall_id: int | None = None,
        goods: Iterable[dict[str, Any]] = (),
        generate: dict[str, Any] | None = None,
        scopes: list[str] | None = None,
        app_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a shop with explicit goods and/or generated ones; returns its summary and a token.

        Explicit goods: `{"goodsName", "goodsId"?, "outGoodsSn"?, "skus": [{"skuSn", "stock",
        "status": active|inactive|sold_out|deleted, "skuId"?, "specName"?, "price"?}]}`.
        Generated: `{"goods": N, "skus_per_goods": M, "seed": S}` (deterministic per seed).
        """
        region = region.upper()
        if region not in REGION_IDS:
            raise ValueError(f"unknown region {region!r}")
        with self.lock:
            mall_id = mall_id or 634418210000000 + self._next()
            if mall_id in self.shops:
                raise ValueError(f"shop {mall_id} exists")
            shop = Shop(
                mall_id=mall_id,
                region=region,
                region_id=REGION_IDS[region],
                warehouse_ids=[f"WH-{mall_id:017d}"[:20], f"WH-{mall_id + 1:017d}"[:20]],
            )
            self.shops[mall_id] = shop
            for spec in goods:
                self._add_goods(shop, spec)
            if generate:
                self._generate_goods(
                    shop,
                    int(generate.get("goods", 1)),
                    int(generate.get("skus_per_goods", 1)),
                    generate.get("seed", self.seed),
                )
            token = self.issue_token(mall_id, scopes=scopes, app_key=app_key)
            return {
                "mallId": mall_id,
                "region": region,
                "regionId": shop.region_id,
                "accessToken": token,
                "goodsCount": len(shop.goods),
                "skuCount": len(shop.skus),
                "warehouseIds": list(shop.warehouse_ids),
            }

    def add_goods(self, mall_id: int, goods: Iterable[dict[str, Any]]) -> list[int]:
        """List more goods in an existing shop (specs as in `create_shop`); returns their goods ids."""
        with self.lock:
            shop = self._shop(mall_id)
            return [self._add_goods(shop, spec).goods_id for spec in goods]

    def _add_goods(self, shop: Shop, spec: dict[str, Any]) -> GoodsRecord:
        goods_id = int(spec.get("goodsId") or 601099510000000 + self._next())
        now = self.now()
        record = GoodsRecord(
            goods_id=goods_id,
            goods_name=str(spec.get("goodsName", f"Goods {goods_id}")),
            out_goods_sn=str(spec.get("outGoodsSn", "")),
            sku_ids=[],
            crt_time=now,
        )
        shop.goods[goods_id] = record
        for sku_spec in spec.get("skus", []):
            status, sub = STATUS_NAMES[str(sku_spec.get("status", "active"))]
            sku = SkuRecord(
                goods_id=goods_id,
                sku_id=int(sku_spec.get("skuId") or 17592186040000 + self._next()),
                sku_sn=str(sku_spec.get("skuSn", "")),
                stock=int(sku_spec.get("stock", 0)),
                status=status,
                sub_status=sub,
                spec_name=str(sku_spec.get("specName", "")),
                price=str(sku_spec.get("price", "99.00")),
                crt_time=now,
                status_change_ms=now * 1000,
            )
            shop.skus[sku.sku_id] = sku
            record.sku_ids.append(sku.sku_id)
        return record

    def _generate_goods(self, shop: Shop, goods: int, skus_per_goods: int, seed: int | None) -> None:
        rng = random.Random(seed)
        colors = ["Black", "White", "Blue", "Red", "Green", "Gold"]
        for g in range(goods):
            skus = []
            for s in range(skus_per_goods):
                stock = rng.randint(0, 20)
                skus.append(
                    {
                        "skuSn": f"GEN-{shop.mall_id % 10000:04d}-{g:04d}-{s:02d}",
                        "stock": stock,
                        "status": "active" if stock else "sold_out",
                        "specName": f"{colors[s % len(colors)]}, {64 * (1 + s // len(colors))}GB",
                        "price": f"{rng.randint(100, 900)}.00",
                    }
                )
            self._add_goods(
                shop, {"goodsName": f"Renewed Phone Model {g}", "outGoodsSn": f"GEN-{g:04d}", "skus": skus}
            )

    def set_sku(
        self,
        mall_id: int,
        sku_id: int,
        *,
        stock: int | None = None,
        status: str | None = None,
        sku_sn: str | None = None,
    ) -> None:
        """Change a SKU as Seller Center or another tool would."""
        with self.lock:
            sku = self._shop(mall_id).skus[sku_id]
            if stock is not None:
                self._set_stock(sku, stock)
            if status is not None:
                sku.status, sku.sub_status = STATUS_NAMES[status]
                sku.status_change_ms = self.now() * 1000
            if sku_sn is not None:
                sku.sku_sn = sku_sn

    def stock(self, mall_id: int) -> dict[int, int]:
        with self.lock:
            return {sku_id: sku.stock for sku_id, sku in self._shop(mall_id).skus.items()}

    # --- API: listings ----------------------------------------------------------------------------

    def _live_goods_status(self, goods: GoodsRecord, shop: Shop) -> int:
        return 6 if all(shop.skus[s].status == DELETED for s in goods.sku_ids) else 1

    def api_goods_list(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        page_no = _int(body, "pageNo", required=True) or 1
        size = _page_size(body, 150010003, MAX_PAGE_SIZE)
        wanted = _int(body, "goodsStatusFilterType", default=1)
        id_filter = {int(g) for g in body.get("goodsIdList") or []}
        goods = sorted(
            (
                g
                for g in shop.goods.values()
                if self._live_goods_status(g, shop) == wanted and (not id_filter or g.goods_id in id_filter)
            ),
            key=lambda g: g.goods_id,
        )
        page = goods[(page_no - 1) * size : page_no * size]
        return {
            "pageNo": page_no,
            "total": len(goods),
            "goodsList": [self._goods_json(g, shop) for g in page],
        }

    def _goods_json(self, goods: GoodsRecord, shop: Shop) -> dict[str, Any]:
        skus = [shop.skus[s] for s in goods.sku_ids]
        first = skus[0] if skus else None
        return {
            "goodsId": goods.goods_id,
            "goodsName": goods.goods_name,
            "outGoodsSn": goods.out_goods_sn,
            "outSkuSnList": [s.sku_sn for s in skus],
            "skuIdList": [s.sku_id for s in skus],
            "skuInfoList": [{"skuId": s.sku_id, "skuSn": s.sku_sn, "specList": []} for s in skus],
            "quantity": sum(s.stock for s in skus),
            "price": first.price if first else None,
            "currency": "USD" if shop.region == "US" else "EUR",
            "crtTime": goods.crt_time,
            "status4VO": self._live_goods_status(goods, shop),
            "subStatus4VO": STATUS_FILTER.get(first.sub_status) if first else None,
            "goodsShowSubStatus": first.sub_status if first else None,
        }

    def _sku_json(self, sku: SkuRecord, shop: Shop) -> dict[str, Any]:
        goods = shop.goods[sku.goods_id]
        return {
            "goodsId": sku.goods_id,
            "skuId": sku.sku_id,
            "skuSn": sku.sku_sn,
            "goodsName": goods.goods_name,
            "specName": sku.spec_name,
            "specList": [],
            "stock": sku.stock,
            "price": sku.price,
            "currency": "USD" if shop.region == "US" else "EUR",
            "crtTime": sku.crt_time,
            "status4VO": sku.status,
            "subStatus4VO": STATUS_FILTER.get(sku.sub_status),
            "skuShowSubStatus4VO": sku.sub_status,
            "goodsIsOnSale": 1 if sku.status == ACTIVE else 0,
            "skuStatusChangeTime": str(sku.status_change_ms),
        }

    def api_sku_list(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        page_no = _int(body, "pageNo", required=True) or 1
        size = _page_size(body, 150010003, MAX_PAGE_SIZE)
        search = _int(body, "skuSearchType", required=True)
        wanted = _int(body, "skuStatusFilterType", required=True)
        sub = _int(body, "skuSubStatusFilterType")
        id_filter = {int(s) for s in body.get("skuIdList") or []}
        text = str(body.get("searchText") or "")
        skus = sorted(
            (
                s
                for s in shop.skus.values()
                if s.status == wanted
                and (s.status == ACTIVE) == (search == 2)
                and (sub is None or s.sub_status == sub)
                and (not id_filter or s.sku_id in id_filter)
                and (
                    not text
                    or text in (s.sku_sn, str(s.goods_id))
                    or text in shop.goods[s.goods_id].goods_name
                )
            ),
            key=lambda s: (s.goods_id, s.sku_id),
        )
        page = skus[(page_no - 1) * size : page_no * size]
        return {"pageNo": page_no, "total": len(skus), "skuList": [self._sku_json(s, shop) for s in page]}

    def api_sku_retrieve(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        size = _page_size(body, 3000000, 25)
        names = {"ACTIVE": ACTIVE, "INACTIVE": INACTIVE, "DELETED": DELETED}
        search = str(body.get("skuSearchType") or "ACTIVE")
        if search not in names and search not in ("INCOMPLETE", "DRAFT"):
            raise SandboxError(3000000, "BAD_PARAMS: skuSearchType")
        token = str(body.get("pageToken") or "")
        try:
            offset = int(token[1:]) if token else 0
        except ValueError:
            raise SandboxError(3000000, "BAD_PARAMS: pageToken") from None
        ids = {int(s) for s in body.get("skuIdList") or []}
        sns = set(body.get("outSkuSnList") or [])
        skus = sorted(
            (
                s
                for s in shop.skus.values()
                if s.status == names.get(search)
                and (not ids or s.sku_id in ids)
                and (not sns or s.sku_sn in sns)
            ),
            key=lambda s: (s.goods_id, s.sku_id),
        )
        page = skus[offset : offset + size]
        more = offset + size < len(skus)
        return {
            "total": len(skus),
            "pagination": {
                "nextToken": f"t{offset + size}" if more else "",
                "previousToken": f"t{max(0, offset - size)}" if offset else "",
            },
            "skuList": [
                {
                    "goodsId": str(s.goods_id),
                    "skuId": str(s.sku_id),
                    "outSkuSn": s.sku_sn,
                    "outGoodsSn": shop.goods[s.goods_id].out_goods_sn,
                    "skuStatus": STATUS_NAME.get(s.status),
                    "skuSubStatus": SUB_STATUS_NAME.get(s.sub_status),
                    "goodsName": shop.goods[s.goods_id].goods_name,
                    "specName": s.spec_name,
                    "specList": [],
                    "goodsCreateTime": s.crt_time * 1000,
                    "skuStatusChangeTime": s.status_change_ms,
                }
                for s in page
            ],
        }

    def api_sku_stock(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        goods_id = _int(body, "goodsId", required=True)
        goods = shop.goods.get(goods_id or 0)
        if goods is None:
            raise SandboxError(150010003, "invalid goodsId")
        ids = {int(s) for s in body.get("skuIdList") or []}
        sns = set(body.get("outSkuSnList") or [])
        infos = [
            {
                "skuId": s.sku_id,
                "outSkuSn": s.sku_sn,
                "selfOrdinaryStock": {"stock": s.stock, "stockType": 0},
            }
            for s in (shop.skus[i] for i in goods.sku_ids)
            if (not ids or s.sku_id in ids) and (not sns or s.sku_sn in sns)
        ]
        return {"stockList": [{"goodsId": goods.goods_id, "skuStockInfoList": infos}]}

    def _set_stock(self, sku: SkuRecord, stock: int) -> None:
        """Temu moves a SKU to sold out (3003) at zero stock and back on sale when restocked."""
        sku.stock = stock
        if stock == 0 and sku.status == ACTIVE:
            sku.status, sku.sub_status = INACTIVE, SOLD_OUT
            sku.status_change_ms = self.now() * 1000
        elif stock > 0 and sku.sub_status == SOLD_OUT:
            sku.status, sku.sub_status = ACTIVE, ON_SALE
            sku.status_change_ms = self.now() * 1000

    def api_stock_edit(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        goods_id = _int(body, "goodsId", required=True) or 0
        targets, changes = body.get("skuStockTargetList"), body.get("skuStockChangeList")
        if targets and changes:
            raise SandboxError(150013003, "Only one inventory adjustment method can be used")
        entries = targets or changes
        if not entries or not isinstance(entries, list):
            raise SandboxError(150010003, "skuStockTargetList or skuStockChangeList is required")
        key = "stockTarget" if targets else "stockDiff"
        sku_ids = [_int(e, "skuId", required=True) for e in entries]
        if len(set(sku_ids)) != len(sku_ids):
            raise SandboxError(150013001, "Duplicate SKUs in one request")
        if changes:
            unique = str(body.get("requestUniqueKey") or "")
            if (shop.mall_id, unique) in self.used_unique_keys:
                raise SandboxError(150010003, "requestUniqueKey was already used")  # sandbox-chosen
            if unique:
                self.used_unique_keys.add((shop.mall_id, unique))
        goods = shop.goods.get(goods_id)
        if goods is None:
            raise SandboxError(150010003, "invalid goodsId")
        statuses = []
        for entry, sku_id in zip(entries, sku_ids, strict=True):
            amount = _int(entry, key, required=True) or 0
            sku = shop.skus.get(sku_id or 0)
            new = amount if targets else (sku.stock if sku else 0) + amount
            if not 0 <= new <= STOCK_MAX:
                raise SandboxError(150013002, "Stock quantity must be between 0 and 1,000,000")
            if sku is None or sku.goods_id != goods_id or sku.status == DELETED:
                statuses.append(
                    {
                        "skuId": sku_id,
                        "stockEditStatus": False,
                        "errorCode": 150010003,
                        "errorMsg": "invalid sku",
                    }
                )
                continue
            self._set_stock(sku, new)
            statuses.append({"skuId": sku_id, "stockEditStatus": True, "errorCode": None, "errorMsg": None})
        ok = all(s["stockEditStatus"] for s in statuses)
        self.stock_edits.append(
            {
                "mallId": shop.mall_id,
                "goodsId": goods_id,
                "mode": key,
                "entries": [{"skuId": i, key: e.get(key)} for i, e in zip(sku_ids, entries, strict=True)],
            }
        )
        return {
            "goodsId": goods_id,
            "operateResult": ok,
            "msg": "success" if ok else "partial success",
            "skuStockEditStatusInfoList": statuses,
        }


GOODS_API: dict[str, Callable[[GoodsRoom, Shop, dict[str, Any]], Any]] = {
    "bg.local.goods.list.query": GoodsRoom.api_goods_list,
    "bg.local.goods.sku.list.query": GoodsRoom.api_sku_list,
    "temu.local.sku.list.retrieve": GoodsRoom.api_sku_retrieve,
    "temu.local.goods.sku.stock.query": GoodsRoom.api_sku_stock,
    "bg.local.goods.stock.edit": GoodsRoom.api_stock_edit,
}
