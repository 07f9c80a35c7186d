"""Ring Lab: serve, evaluate and train Ring-lite models."""
