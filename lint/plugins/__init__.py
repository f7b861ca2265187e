"""Rules from elsewhere: discovery of built-in and entry-point rules, rule packs, local rules.

Imports nothing: a one-file run loads only the modules it uses."""
