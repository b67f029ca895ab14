"""``python -m cellhub``: the command line (see :mod:`cellhub.cli`)."""

from cellhub.cli import main

main()
