"""Partners: the merchants that integrate with gerbang."""
