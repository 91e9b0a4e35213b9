"""rag/web/sessions.py: a session of the real app starts without building every block's config, and reads the
same configs as Gradio's own SessionState once it is updated and a deep link asks for them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio.blocks import BlocksConfig
from gradio.state_holder import SessionState

from rag.settings import Settings
from rag.web.app import build_app
from rag.web.library import Library
from rag.web.scratch import Scratch
from rag.web.sessions import LazySessionState


def _small() -> tuple[gr.Blocks, gr.Textbox, gr.State, gr.Markdown]:
    with gr.Blocks() as demo:
        box = gr.Textbox("first", label="Question")
        state = gr.State({"n": 1})
        note = gr.Markdown("hello")
        gr.Button("Ask").click(lambda q: q, box, note)
    return demo, box, state, note


def test_it_has_every_attribute_of_gradios_own() -> None:
    demo, *_ = _small()
    assert set(vars(SessionState(demo))) <= set(vars(LazySessionState(demo)))


def test_after_the_same_updates_it_reads_the_same_configs_as_gradios_own() -> None:
    demo, box, state, note = _small()
    sessions = [SessionState(demo), LazySessionState(demo)]
    for s in sessions:
        s[box._id] = gr.Textbox("changed", label="Question")
        s._update_value_in_config(note._id, "an answer")
        assert s[state._id] == {"n": 1}
        s[state._id] = {"n": 2}
    gradio_own, lazy = ([c for c in s.components] for s in sessions)
    assert gradio_own == lazy
    values = {c["id"]: c.get("props", {}).get("value") for c in lazy}
    assert values[note._id] == "an answer"
    assert sessions[1][state._id] == {"n": 2}


def test_a_new_session_of_the_real_app_builds_no_block_config(
    small_index: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = Scratch.create(tmp_path / "cache", max_age_s=60)
    try:
        demo = build_app(Library(small_index, tmp_path / "questions.jsonl"), scratch)
        built: list[Any] = []
        original = BlocksConfig.config_for_block

        def counted(*args: Any) -> dict[str, Any]:
            built.append(args)
            return original(*args)

        monkeypatch.setattr(BlocksConfig, "config_for_block", staticmethod(counted))
        assert len(SessionState(demo).config_values) == len(built) > 100  # Gradio's: every block, up front
        built.clear()
        lazy = LazySessionState(demo)
        assert not built and not lazy.config_values
        assert len(list(lazy.components)) == len(built) > 100  # a deep link still gets them all
    finally:
        scratch.close()


def test_install_keeps_gradios_own_when_its_session_state_has_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio import state_holder

    import rag.web.sessions as sessions

    monkeypatch.setattr(state_holder, "SessionState", SessionState)
    assert sessions.install() is True and state_holder.SessionState is LazySessionState

    class NewerSessionState(SessionState):  # a later Gradio whose sessions hold one more thing
        def __init__(self, blocks: Any) -> None:
            super().__init__(blocks)
            self.something_new: dict[int, Any] = {}

    monkeypatch.setattr(state_holder, "SessionState", NewerSessionState)
    monkeypatch.setattr(sessions, "SessionState", NewerSessionState)
    assert sessions.install() is False and state_holder.SessionState is NewerSessionState
