"""Order import: the schedule tick fans out; each queue message imports one connection's new and changed Temu orders."""

from wholecell_temu.jobs import order_import
from wholecell_temu.jobs.framework import job_lambda_handler

lambda_handler = job_lambda_handler("order_import", order_import.run)
