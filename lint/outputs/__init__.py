"""What a run prints and writes: text, CI formats (SARIF, GitHub, JUnit, GitLab), the HTML
report and the rule documentation.

Imports nothing: a one-file run loads only the modules it uses."""
