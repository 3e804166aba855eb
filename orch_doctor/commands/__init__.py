"""CLI subcommands, one module each; imported lazily by ``orch_doctor.cli``."""
