"""A workflow app that exists only in the tests, to prove the plug-in points: it adds an automation
kind, its own action, its own exception item kind, a Why-page panel and a schedule, touching no other
app. ``tests/settings.py`` installs it; ``tests/test_plugin_app.py`` runs it end to end."""
