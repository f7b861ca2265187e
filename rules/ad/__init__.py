"""AD: advertising and site boilerplate inside the article body."""
