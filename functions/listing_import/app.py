"""Listing import: the schedule tick fans out; each queue message imports one connection's shop."""

from wholecell_temu.jobs import listing_import
from wholecell_temu.jobs.framework import job_lambda_handler

lambda_handler = job_lambda_handler("listing_import", listing_import.run)
