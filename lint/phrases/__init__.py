"""Phrase matching over lines of text: normalisation, lexicons, clauses, the matcher and the
line gate.

Imports nothing: a one-file run loads only the modules it uses."""
