"""The review queue: every review decision (and every rule with ``case: true``) opens a
case; analysts work it to a verdict, which becomes a label the same day."""
