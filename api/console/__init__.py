"""The console: batches, jobs, evidence and spend in the browser, served at /console.

Server-rendered with Jinja2 (autoescaped), a small script for live counts and keyboard
shortcuts, no build step. Sign-in is an API key exchanged for a server-side session
(`storage.console_sessions`); every state-changing form carries a CSRF token.
"""
