"""Domain-free toolkit. Nothing here imports from the rest of gerbang."""
