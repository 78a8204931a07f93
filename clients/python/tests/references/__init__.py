"""NumPy transcriptions of upstream SSD losses that cannot be installed here (docs/LOSSES.md)."""
