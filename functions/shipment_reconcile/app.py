"""Shipment reconciler: the schedule tick fans out; each queue message finds one connection's unconfirmed shipments."""

from wholecell_temu.jobs import shipment_reconcile
from wholecell_temu.jobs.framework import job_lambda_handler

lambda_handler = job_lambda_handler("shipment_reconcile", shipment_reconcile.run)
