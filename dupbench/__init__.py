"""dupbench: exact and near-duplicate image detection, run serial, in threads or in processes."""

__version__ = "0.1.0"
