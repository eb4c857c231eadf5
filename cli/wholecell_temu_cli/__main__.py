"""`python -m wholecell_temu_cli`, the same as the `wholecell-temu` command."""

from wholecell_temu_cli.main import main

main()
