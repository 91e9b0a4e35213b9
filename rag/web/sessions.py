"""Gradio's per-session state, its copy of every block's config made when something asks for it, not up front."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from copy import copy
from typing import Any

from gradio import state_holder
from gradio.state_holder import SessionState

log = logging.getLogger("rla.web")

# Gradio (6.x) builds the config of every block of the app for each new session — a page, a gradio_client
# Client, an API call without a session — on its event loop: ~70–190 ms of CPU for this app's six tabs, during
# which no other request moves (py-spy under 16 users: half the server's own CPU). Only a deep link reads them
# all; an update reads one. So each is built when first read, from the session's block as it is then — what
# Gradio's own copy holds after its updates.


class LazySessionState(SessionState):
    """SessionState whose `config_values` fills in on use: the same values as Gradio's when they are read."""

    def __init__(self, blocks: Any) -> None:  # Gradio's __init__ without the up-front configs (test_web_sessions)
        self.blocks_config = copy(blocks.default_config)
        self._config_ids = [k for k in self.blocks_config.blocks if k in blocks.blocks]
        self.config_values: dict[int, Any] = {}
        self.state_data: dict[int, Any] = {}
        self._state_ttl: dict[int, Any] = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    def _fill(self) -> None:
        for key in self._config_ids:
            block = self.blocks_config.blocks.get(key)
            if key not in self.config_values and block is not None:
                self.config_values[key] = self.blocks_config.config_for_block(key, [], block)

    @property
    def components(self) -> Iterator[dict[str, Any]]:
        """Every block's config, in the app's order (a deep link saves them all)."""
        self._fill()
        first = [k for k in self._config_ids if k in self.config_values]
        rest = [k for k in self.config_values if k not in set(first)]
        for key in first + rest:
            if self.config_values[key]:
                yield self.config_values[key]


def install() -> bool:
    """New sessions of every app in this process get LazySessionState (the server calls it before serving), when
    this Gradio's SessionState is the one it was written for: a Gradio whose sessions hold something else keeps
    its own (slower for many new sessions at once, never wrong). True when installed."""
    import gradio as gr

    with gr.Blocks() as probe:
        gr.Textbox()
    try:
        fits = set(vars(SessionState(probe))) <= set(vars(LazySessionState(probe)))
    except Exception:  # any change in Gradio's internals means: keep Gradio's own
        fits = False
    if not fits:
        log.warning(
            "gradio %s: its session state has changed; new sessions build their configs up front", gr.__version__
        )
        return False
    state_holder.SessionState = LazySessionState  # type: ignore[misc]
    return True
