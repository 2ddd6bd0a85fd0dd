"""``python -m proofs``: print the verdict table and the errata with their corrections."""

import sys

from proofs import main

if __name__ == "__main__":
    sys.exit(main())
