"""``python -m hierax.cli`` runs ``hierax-pop``."""

from hierax.cli.main import pop_main

if __name__ == "__main__":
    raise SystemExit(pop_main())
