"""`dupbench review`: a static page to look at a run's groups, tick what to remove, and export a plan."""
