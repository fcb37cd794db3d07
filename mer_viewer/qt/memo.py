"""Results of recently shown clips kept in memory, so that going back to a clip is instant."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

#: Clips whose cloud, aligned pair, flow and samplings are kept (~8 MB each at 1280×720).
RECENT_CLIPS = 12


class Memo:
    """A small least-recently-used mapping (GUI thread only)."""

    def __init__(self, size: int = RECENT_CLIPS):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
