"""remux."""
