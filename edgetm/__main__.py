import sys

from edgetm.cli import main

sys.exit(main())
