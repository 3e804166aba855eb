"""Execute a spawn plan: the executor, its terminals and the delivery confirmation."""
