"""Logistics: carriers, warehouses, and shipments (confirm, read, change the tracking)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.sandboxes.temu.rooms.orders import OrdersRoom
from local.sandboxes.temu.rooms.records import (
    BLOCKING_LABELS,
    CANCELED,
    CARRIERS,
    DELIVERED,
    REGION_IDS,
    SHIPPED,
    UN_SHIPPING,
    ItemRecord,
    PackageRecord,
    SandboxError,
    Shop,
    _int,
)


class LogisticsRoom(OrdersRoom):
    """Shipping acts on orders (checks their items, moves their status), hence built on the orders room."""

    def _forget(self) -> None:
        super()._forget()
        self.packages: dict[str, PackageRecord] = {}
        self.used_tracking: dict[tuple[int, str], str] = {}  # (mall, tracking) → packageSn

    @staticmethod
    def _package_json(p: PackageRecord) -> dict[str, Any]:
        return {
            "packageSn": p.package_sn,
            "mallId": p.mall_id,
            "carrierId": p.carrier_id,
            "trackingNumber": p.tracking_number,
            "warehouseId": p.warehouse_id,
            "lines": p.lines,
            "subPackages": p.sub_packages,
            "sendType": p.send_type,
        }

    # --- API: logistics -----------------------------------------------------------------------------

    def api_carriers(self, shop: Shop, body: dict[str, Any]) -> list[dict[str, Any]]:
        region_id = _int(body, "regionId", default=shop.region_id)
        region = next((r for r, rid in REGION_IDS.items() if rid == region_id), "GLOBAL")
        return [
            {
                "logisticsServiceProviderId": cid,
                "logisticsServiceProviderName": name,
                "logisticsBrandName": name,
            }
            for cid, name in CARRIERS[region]
        ]

    def api_warehouses(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "warehouseList": [
                {
                    "warehouseId": wid,
                    "warehouseName": f"Warehouse {n + 1}",
                    "defaultWarehouse": n == 0,
                    "warehouseBrand": None,
                    "regionId1": shop.region_id,
                    "warehouseManagementType": 1,
                    "enableBuyShippingLabel": False,
                }
                for n, wid in enumerate(shop.warehouse_ids)
            ]
        }

    def _check_tracking(
        self, shop: Shop, carrier_id: Any, tracking: Any, warehouse: Any, package_sn: str | None = None
    ) -> tuple[int, str]:
        if _int({"c": carrier_id}, "c") not in shop.carriers:
            raise SandboxError(120014005, "The carrier is not valid for this region")
        number = "".join(ch for ch in str(tracking or "") if ch not in "-%# ")
        if not number:
            raise SandboxError(120014001, "Tracking number is blank")
        if not number.isalnum():
            raise SandboxError(120014020, "Tracking number contains invalid characters")
        used_by = self.used_tracking.get((shop.mall_id, number))
        if used_by is not None and used_by != package_sn:
            raise SandboxError(120014004, "The tracking number has already been used")
        if warehouse is None:
            raise SandboxError(120015527, "selfShippingWarehouseId is required")
        if str(warehouse) not in shop.warehouse_ids:
            raise SandboxError(120011085, "The warehouse does not exist")
        return int(carrier_id), number

    def _check_line(self, shop: Shop, line: dict[str, Any], acceptance: set[str]) -> ItemRecord:
        order = self.orders.get(str(line.get("parentOrderSn") or ""))
        if order is None or order.mall_id != shop.mall_id:
            raise SandboxError(120012007, "The parent order does not match")
        item = next((i for i in order.items if i.order_sn == line.get("orderSn")), None)
        if item is None:
            raise SandboxError(120012016, "The order does not belong to the parent order")
        if item.status in (SHIPPED, DELIVERED):
            raise SandboxError(120012004, "The order has already been shipped")
        if CANCELED in (item.status, order.status):
            raise SandboxError(120012005, "The order has been cancelled")  # sandbox-chosen
        if item.status != UN_SHIPPING:
            raise SandboxError(120012006, "The order is not awaiting shipment")  # sandbox-chosen
        for label, (code, override) in BLOCKING_LABELS.items():
            if order.labels.get(label) == 1 and override not in acceptance:
                raise SandboxError(code, f"The order is blocked: {label}")
        if _int(line, "quantity", required=True) != item.quantity:
            raise SandboxError(120012010, "Only the full item quantity can be shipped")  # sandbox-chosen
        return item

    def api_shipment_confirm(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        send_type = _int(body, "sendType", required=True)
        packages = body.get("sendRequestList")
        if send_type not in (0, 1, 2) or not packages or not isinstance(packages, list):
            raise SandboxError(3000000, "BAD_PARAMS: sendType and sendRequestList are required")
        checked = []
        for package in packages:
            acceptance = set(package.get("confirmAcceptance") or [])
            carrier_id, number = self._check_tracking(
                shop,
                package.get("carrierId"),
                package.get("trackingNumber"),
                package.get("selfShippingWarehouseId"),
            )
            subs = [
                self._check_tracking(
                    shop, s.get("carrierId"), s.get("trackingNumber"), s.get("selfShippingWarehouseId")
                )
                for s in package.get("subSendRequests") or []
            ]
            if len(subs) > 10:
                raise SandboxError(120011098, "At most 10 sub tracking numbers")
            lines = package.get("orderSendInfoList") or []
            if not lines:
                raise SandboxError(3000000, "BAD_PARAMS: orderSendInfoList is required")
            items = [self._check_line(shop, line, acceptance) for line in lines]
            checked.append((package, carrier_id, number, subs, items))
        self._check_send_type(send_type, checked)
        for package, carrier_id, number, subs, items in checked:
            sn = f"PK-{self._next():019d}"
            self.packages[sn] = PackageRecord(
                package_sn=sn,
                mall_id=shop.mall_id,
                carrier_id=carrier_id,
                tracking_number=number,
                warehouse_id=str(package["selfShippingWarehouseId"]),
                lines=[
                    {
                        "parentOrderSn": line["parentOrderSn"],
                        "orderSn": line["orderSn"],
                        "quantity": int(line["quantity"]),
                        "skuId": item.sku_id,
                    }
                    for line, item in zip(package["orderSendInfoList"], items, strict=True)
                ],
                sub_packages=[{"carrierId": c, "trackingNumber": t} for c, t in subs],
                send_type=send_type,
            )
            for tracking in [number, *(t for _, t in subs)]:
                self.used_tracking[(shop.mall_id, tracking)] = sn
        now = self.now()
        for parent in {line["parentOrderSn"] for p in checked for line in p[0]["orderSendInfoList"]}:
            order = self.orders[parent]
            for item in (i for p in checked for i in p[4] if i in order.items):
                item.status, item.shipping_time = SHIPPED, now
            self._touch(order)
        return {"assistantAgreementText": None, "warningMessage": []}

    def _check_send_type(self, send_type: int, checked: list[Any]) -> None:
        parents = {line["parentOrderSn"] for p in checked for line in p[0]["orderSendInfoList"]}
        if send_type == 0 and (len(checked) != 1 or len(parents) != 1):
            raise SandboxError(3000000, "BAD_PARAMS: sendType 0 ships one parent order in one package")
        if send_type == 1:
            if len(parents) != 1:
                raise SandboxError(3000000, "BAD_PARAMS: sendType 1 splits one parent order")
            order = self.orders[parents.pop()]
            sent = {i.order_sn for p in checked for i in p[4]}
            if any(i.status == UN_SHIPPING and i.order_sn not in sent for i in order.items):
                raise SandboxError(120012016, "Split shipping must include every item of the parent order")

    def api_shipment_get(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        order = self._own_order(shop, body)
        order_sn = body.get("orderSn")
        if not any(i.order_sn == order_sn for i in order.items):
            raise SandboxError(120012016, "The order does not belong to the parent order")
        names = shop.carriers
        infos = [
            {
                "carrierId": p.carrier_id,
                "carrierName": names.get(p.carrier_id),
                "trackingNumber": p.tracking_number,
                "skuId": line["skuId"],
                "quantity": line["quantity"],
                "packageSn": p.package_sn,
                "packageDeliveryType": 1,
                "trackingWarningLabel": 0,
                "subPackageShipmentInfoList": [
                    {
                        "carrierId": s["carrierId"],
                        "carrierName": names.get(s["carrierId"]),
                        "packageSn": f"{p.package_sn}-{n + 1}",
                        "packageDeliveryType": 1,
                        "trackingNumber": s["trackingNumber"],
                    }
                    for n, s in enumerate(p.sub_packages)
                ],
            }
            for p in self.packages.values()
            if p.mall_id == shop.mall_id
            for line in p.lines
            if line["orderSn"] == order_sn
        ]
        return {"shipmentInfoDTO": infos}

    def api_shipping_type_update(self, shop: Shop, body: dict[str, Any]) -> bool:
        edits = body.get("editPackageRequestList")
        if not edits or not isinstance(edits, list):
            raise SandboxError(3000000, "BAD_PARAMS: editPackageRequestList is required")
        planned = []
        for edit in edits:
            package = self.packages.get(str(edit.get("packageSn") or ""))
            if package is None or package.mall_id != shop.mall_id:
                raise SandboxError(120012016, "The package does not exist")  # sandbox-chosen
            warehouse = edit.get("selfShippingWarehouseId", package.warehouse_id)
            planned.append(
                (
                    package,
                    *self._check_tracking(
                        shop,
                        edit.get("shipCompanyId"),
                        edit.get("trackingNumber"),
                        warehouse,
                        package.package_sn,
                    ),
                    str(warehouse),
                )
            )
        for package, carrier_id, number, warehouse in planned:
            self.used_tracking.pop((shop.mall_id, package.tracking_number), None)
            package.carrier_id, package.tracking_number, package.warehouse_id = carrier_id, number, warehouse
            self.used_tracking[(shop.mall_id, number)] = package.package_sn
        return True


LOGISTICS_API: dict[str, Callable[[LogisticsRoom, Shop, dict[str, Any]], Any]] = {
    "bg.logistics.companies.get": LogisticsRoom.api_carriers,
    "bg.logistics.warehouse.list.get": LogisticsRoom.api_warehouses,
    "bg.logistics.shipment.v2.confirm": LogisticsRoom.api_shipment_confirm,
    "bg.logistics.shipment.v2.get": LogisticsRoom.api_shipment_get,
    "bg.logistics.shipment.shippingtype.update": LogisticsRoom.api_shipping_type_update,
}
