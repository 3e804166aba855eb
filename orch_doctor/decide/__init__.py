"""The decision: capabilities + server status + request + matrix -> strategy and exact plan."""
