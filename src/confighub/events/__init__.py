"""What the hub publishes: a ``ConfigChange`` per change, and its ``ConfigDiff``.

``ts, old_hash, new_hash, old, new = change``; ``change.diff`` keys what was
added, removed and changed by item id. Both render as HTML tables in notebooks.
``new_change`` is the fast constructor every publisher uses.
"""

from confighub.events._change import ConfigChange, ConfigDiff, items_by_key, new_change
from confighub.events._diffing import Item, item_key

__all__ = ["ConfigChange", "ConfigDiff", "Item", "item_key", "items_by_key", "new_change"]
