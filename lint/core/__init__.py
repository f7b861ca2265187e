"""The engine: checking a document, the fix loop, suppressions and the cross-document pass.

Imports nothing: a one-file run loads only the modules it uses."""
