"""The journal: the event, decision and profile logs, their one writer, their readers, their replay (DESIGN.md 11)."""
