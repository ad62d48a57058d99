"""Custom actions, one module per concern. The action server imports this package.

The catalogue is loaded here, at import, so a malformed catalogue stops the action server
at start with a message naming the entry, instead of failing mid-conversation.
"""

from actions.catalogue import default_catalogue
from actions.resources import ActionShowResources
from actions.triage import ActionResetTriage

default_catalogue()

__all__ = ["ActionResetTriage", "ActionShowResources"]
