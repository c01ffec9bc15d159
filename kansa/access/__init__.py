"""Who may do what: API keys, viewer tokens, accounts, the reader they become, and the
scope a reader's request is narrowed to."""
