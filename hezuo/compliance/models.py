"""Rectification cases, their checklist items and tasks, special assistance."""
