"""What the server process spends on Gradio's machinery for each answer, beyond the answer: kept to what is needed."""

from __future__ import annotations

import importlib.util
import typing
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from rag.web.inputs import shown

ROOT = Path(__file__).resolve().parent.parent


def _entry_point() -> Any:
    """The repository root's app.py, which is not on sys.path under pytest."""
    spec = importlib.util.spec_from_file_location("rla_app_entry_costs", ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary_after_three_answers() -> dict[str, Any]:
    with gr.Blocks() as demo:
        gr.Textbox()
    demo.queue()
    queue = demo._queue
    records = [{"function": "ask", "status": "success", "process_time": 0.1 * i, "time": 0.0} for i in range(3)]
    queue.events_recorded = len(records)
    return dict(queue.compute_analytics_summary(records))


@pytest.mark.parametrize("with_app_defaults", [True, False])
def test_the_queue_builds_no_analytics_summary_after_each_event(
    monkeypatch: pytest.MonkeyPatch, with_app_defaults: bool
) -> None:
    defaults = _entry_point().GRADIO_DEFAULTS
    for key, value in defaults.items():
        if with_app_defaults:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    summary = _summary_after_three_answers()
    # Gradio's own default computes it (a pandas frame of every event); the app's settings leave it uncomputed.
    assert ("ask" in summary["functions"]) is not with_app_defaults


def test_handlers_carry_their_type_hints_evaluated() -> None:
    def ask(question: str, year_from: int | None = None) -> dict[str, Any]:
        return {"question": question, "year_from": year_from}

    wrapped = shown(lambda text: text)(ask)
    assert ask.__annotations__["year_from"] == "int | None"  # strings here (`from __future__ import annotations`)
    assert wrapped.__annotations__ == {"question": str, "year_from": int | None, "return": dict[str, Any]}
    assert typing.get_type_hints(wrapped) == typing.get_type_hints(ask)
    assert wrapped("q", 2020) == {"question": "q", "year_from": 2020}
