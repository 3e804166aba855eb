"""The consumers of the server after a spawn (orch's own OpenCode client): their contracts
(compat_matrix/clients/) held against a live server."""
