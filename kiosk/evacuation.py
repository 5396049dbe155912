"""The evacuation banner: polls the roll call and prints each new one once."""

from __future__ import annotations

from typing import Any


class EvacuationMixin:
    """Part of KioskApp: sets evac_visible / evac_drill, which the banner shows."""

    def _poll_evacuation(self) -> None:
        self.worker.run(self.services.rollcall.current, then=self._evacuation, keep=True)

    def _evacuation(self, view: Any) -> None:
        if view is None:
            self.evac_visible = False
            self._evac_id = None
            return
        self.evac_visible = True
        self.evac_drill = bool(view.drill)
        if self._evac_id != view.id:
            self._evac_id = view.id
            self.hide_saver()
            self.dim_layer.opacity = 0
            self.worker.run(self.services.rollcall.print_once, view.id, keep=True)
