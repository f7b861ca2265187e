"""DM: metadata duplicated in the body and clipper leftovers."""
