"""Publishing: the eval gate and immutable, gaplessly numbered versions."""
