"""TM: tidymark's own markers (suppression comments)."""
