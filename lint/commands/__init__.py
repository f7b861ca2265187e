"""The command line: ``tidymark`` and its commands.

Imports nothing: a one-file run loads only the modules it uses."""
