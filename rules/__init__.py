"""tidymark's built-in rules: one rule per module, its docstring its documentation, its
test cases in ``<module>.cases.yml`` beside it.  Rules are discovered by scanning this
package; there is no list to maintain."""
