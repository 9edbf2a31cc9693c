"""The publish function: the eval gate and immutable versions."""
