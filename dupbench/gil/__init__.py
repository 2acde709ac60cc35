"""`dupbench gil`: a measured demonstration of which work the GIL serialises, and what changes without it."""
