"""The bot's words in other languages: fixed translations (content/translations/) and their checks.

Kept apart from addons/ so the chat page server and the scripts can read the translations
without importing Rasa.
"""
