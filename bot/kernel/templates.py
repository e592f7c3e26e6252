"""Text templates that become message blocks, for features whose operators may restyle a post.

Each feature ships Jinja2 templates in its own `templates/` folder, which operators may override
by putting files of the same name in a folder named in the feature's config. A template renders
*plain text lines*, and the first characters of each line choose the block:

    # Heading        ## Bold line        - bullet        > quote        ~ small print
    anything else is a paragraph; blank lines are dropped

Why lines and not Markdown or HTML: the neutral Message has no raw markup, and user text (a
customer name, a kudos reason) must never choose the structure. Every `{{ … }}` value is
swapped for an opaque placeholder while the template renders (Jinja's `finalize` hook), the
line structure is read from what the template author wrote, and only then are the values put
back in as plain `str` parts, with newlines folded to spaces. So a customer called
"# Free pizza" or "<!channel>" stays one literal string inside a Paragraph, which the Slack
and Teams renderers escape like any other text. Digests name people without mentions, so a
weekly summary never pings the whole team.
"""

from __future__ import annotations

import contextvars
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.kernel.messages import Block, Context, Heading, Paragraph, Quote, Strong

# Slack takes at most 50 blocks per message.
MAX_BLOCKS = 50

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment


class TemplateFailed(Exception):
    """A template could not render (a broken operator override: a missing name, a bad filter).

    Jinja2 is imported at the first render, not at start-up (1.8 MB a server keeps otherwise),
    so its own TemplateError is not something callers can name before then."""


_values: contextvars.ContextVar[list[str]] = contextvars.ContextVar("digest_values")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def _finalize(value: Any) -> str:
    """Every interpolated value becomes a placeholder; see the module docstring."""
    if value is None:
        value = ""
    store = _values.get()
    store.append(" ".join(str(value).split()))
    return f"\x00{len(store) - 1}\x00"


@lru_cache(maxsize=8)
def environment(builtin: Path, override: Path | None) -> SandboxedEnvironment:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    loaders = ([FileSystemLoader(str(override))] if override else []) + [FileSystemLoader(str(builtin))]
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        finalize=_finalize,
        autoescape=False,  # output is not HTML; escaping is the renderers' job
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_DIRECTIVES = (("## ", "strong"), ("# ", "heading"), ("- ", "bullet"), ("> ", "quote"), ("~ ", "context"))


def render_blocks(template: str, context: dict[str, Any], builtin: Path, override: Path | None = None) -> tuple[Block, ...]:
    """Render `template` from the operator's `override` folder if it has one of that name, else from the feature's `builtin` folder."""
    from jinja2 import TemplateError

    token = _values.set([])
    try:
        text = environment(builtin, override).get_template(template).render(**context)
        values = _values.get()
    except TemplateError as exc:
        raise TemplateFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        _values.reset(token)

    def fill(line: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[int(m.group(1))], line).strip()

    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        kind = next((k for prefix, k in _DIRECTIVES if line.startswith(prefix)), "paragraph")
        body = fill(line[len(next(p for p, k in _DIRECTIVES if k == kind)) :] if kind != "paragraph" else line)
        if not body:
            continue
        if kind == "heading":
            blocks.append(Heading(body))
        elif kind == "strong":
            blocks.append(Paragraph((Strong(body),)))
        elif kind == "bullet":
            blocks.append(Paragraph(("• " + body,)))
        elif kind == "quote":
            blocks.append(Quote(body))
        elif kind == "context":
            blocks.append(Context((body,)))
        else:
            blocks.append(Paragraph((body,)))
    if len(blocks) > MAX_BLOCKS:
        # An override template can loop over anything; never hand the platforms a message they refuse.
        blocks = blocks[: MAX_BLOCKS - 1] + [Context(("(shortened: too long for one message)",))]
    return tuple(blocks)


def templates_dir(value: Path | None) -> Path | None:
    """An operator's template override directory, every template in it parsed now.

    A broken override should stop the bot at start-up, not fail silently on Friday afternoon.
    """
    if value is None:
        return value
    if not value.is_dir():
        raise ValueError(f"templates_dir {str(value)!r} is not a directory")
    from jinja2 import Environment, TemplateSyntaxError

    for path in sorted(value.glob("*.j2")):
        try:
            Environment().parse(path.read_text(encoding="utf-8"), path.name, str(path))
        except TemplateSyntaxError as exc:
            raise ValueError(f"{path}:{exc.lineno}: {exc.message}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read ({exc})") from None
    return value
