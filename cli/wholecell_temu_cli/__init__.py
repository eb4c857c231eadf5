"""`wholecell-temu`: the operators' command line for the WholeCell <-> Temu integration (docs/cli.md)."""
