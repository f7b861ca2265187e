"""A run over files: configuration, file walking, cache, journal, baseline, the rule book and
the process pool.

Imports nothing: a one-file run loads only the modules it uses."""
