"""The doctor: concurrent checks over the probes and the decision."""
