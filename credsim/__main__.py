"""``python -m credsim ...``: the same command line as the ``credsim`` script."""

from credsim.cli import main

if __name__ == "__main__":
    main()
