"""`dupbench report`: results/ (sweeps, accuracy, GIL demo) -> figures, report/README.md and report/index.html."""
