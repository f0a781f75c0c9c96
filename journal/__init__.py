"""The journal: the event and decision logs, their one writer, their readers and their replay (DESIGN.md 11)."""
