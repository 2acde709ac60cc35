import sys

from dupbench.cli import main

sys.exit(main())
