"""Address backfill: the schedule tick fans out; each queue message fills one connection's awaited addresses."""

from wholecell_temu.jobs import address_backfill
from wholecell_temu.jobs.framework import job_lambda_handler

lambda_handler = job_lambda_handler("address_backfill", address_backfill.run)
