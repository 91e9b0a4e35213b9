"""A topic → a briefing pack for trainers: cited learning points by theme, recommendations, vignettes, questions.

model.py holds the records, questions.py the discussion question templates, select.py chooses the quotes,
themes.py groups them under vocabulary themes, build.py assembles the pack
and write.py renders it (Markdown, HTML, Word); each module imports only the ones before it.
"""

from rag.brief.build import build_brief
from rag.brief.model import Brief, BriefError, Quote, Reference, Theme, Vignette
from rag.brief.write import check_output, render_html, render_markdown, write_brief

__all__ = [
    "Brief",
    "BriefError",
    "Quote",
    "Reference",
    "Theme",
    "Vignette",
    "build_brief",
    "check_output",
    "render_html",
    "render_markdown",
    "write_brief",
]
