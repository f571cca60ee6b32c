"""The discussion widget: threads, replies (two levels), edits with history, reactions."""
