"""`python -m dupbench.gil`: the gil demo without importing the rest of the CLI.

The detector's modules need OpenCV and may import scikit-image modules that switch the GIL back on
under a free-threaded interpreter; this entry point imports only the demo's own modules.
"""

import argparse
import sys

from dupbench.gil.cli import DESCRIPTION, EPILOG, add_arguments, run_gil_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dupbench.gil", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return run_gil_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
