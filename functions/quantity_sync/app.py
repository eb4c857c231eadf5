"""Quantity sync: the schedule tick fans out; each queue message syncs one connection's quantities."""

from wholecell_temu.jobs import quantity_sync
from wholecell_temu.jobs.framework import job_lambda_handler

lambda_handler = job_lambda_handler("quantity_sync", quantity_sync.run)
