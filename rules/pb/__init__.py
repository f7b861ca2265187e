"""PB: publishing flags."""
