"""What every model server shares. Never imports Qt or ``app``."""
