"""What a function loads at cold start: a producer imports the queue contract, not the consumers.

Each handler is imported in a fresh interpreter the way Lambda (and local/workers.py) loads it:
the function's directory and the layer first on `sys.path`, then `import app`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common"

# what a function that only verifies and queues must never load
CONSUMER_MODULES = (
    "wholecell_temu.temu.client",
    "wholecell_temu.jobs.shipment_push",
    "wholecell_temu.jobs.framework",
    "aws_lambda_powertools.utilities.idempotency",
)


def loaded_modules(code: str, function: str | None = None) -> set[str]:
    """The modules `code` leaves in sys.modules, run in a fresh interpreter with the layer on the path."""
    paths = [str(ROOT / "functions" / function)] if function else []
    script = (f"import json, sys\nsys.path[:0] = {json.dumps([*paths, str(LAYER)])}\n{code}\n"
              "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60,
                            cwd=ROOT / "functions" / function if function else ROOT)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_webhook_loads_neither_the_temu_client_nor_the_shipment_worker() -> None:
    modules = loaded_modules("import app", "shipment_webhook")
    assert "wholecell_temu.webhook" in modules and "wholecell_temu.queues" in modules
    assert not [name for name in modules if name.startswith(CONSUMER_MODULES)]


def test_temu_codes_load_without_the_client() -> None:
    modules = loaded_modules("import wholecell_temu.temu.codes, wholecell_temu.domain.settings")
    assert "wholecell_temu.temu.client" not in modules


def test_the_queue_contract_loads_no_consumer() -> None:
    modules = loaded_modules("import wholecell_temu.queues, wholecell_temu.services")
    assert not [name for name in modules if name.startswith(CONSUMER_MODULES)]
