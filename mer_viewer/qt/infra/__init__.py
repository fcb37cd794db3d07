"""Plumbing of the app, no widgets: background jobs, recent-clip memory, loading and reading ahead, state, session, settings, start-up and scripted runs."""
