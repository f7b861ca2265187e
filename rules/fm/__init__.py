"""FM: front matter."""
