"""``python -m aekit``: the same command line as the ``aekit`` script."""

from .cli import main

if __name__ == "__main__":
    main()
