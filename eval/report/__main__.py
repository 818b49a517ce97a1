"""`python -m eval.report ...`, the same as `python -m eval report ...`."""

import sys

from eval.report import main

sys.exit(main())
