"""The core: routes translated events to feature handlers and sends what they produce.

Features register their commands, button actions and forms here; the composition root (bot/app.py)
hands the core its features, so the kernel imports none of them, adapters stay ignorant of features
and features stay ignorant of platforms.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.kernel.errors import UserFacingError
from bot.kernel.events import ActionInvoked, CommandInvoked, FormSubmitted
from bot.kernel.lifecycle import InFlight
from bot.kernel.metrics import HANDLER_LATENCY, timed
from bot.kernel.messages import Context, Form, Message, Paragraph, Strong
from bot.kernel.feature import Feature
from bot.kernel.orgconfig import OrgConfig
from bot.kernel.outbox import Outbox
from bot.kernel.personal import not_in_channel_notice
from bot.kernel.ports import ChatAdapter, Outbound, Responder
from bot.kernel.scheduler import Scheduler
from bot.kernel.settings import Settings
from storage.kernel.db import WriteFailed, is_retryable

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a handler wants done: answer the actor, open a form, replace the clicked message, send more."""

    reply: Message | None = None
    form: Form | None = None
    update: Message | None = None
    followups: list[Outbound] = field(default_factory=list)


class FormInvalid(UserFacingError):
    """Field-level problems with a submitted form; nothing was stored."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


CommandHandler = Callable[["PulseBridge", CommandInvoked], Awaitable[Outcome]]
ActionHandler = Callable[["PulseBridge", ActionInvoked], Awaitable[Outcome]]
FormHandler = Callable[["PulseBridge", FormSubmitted], Awaitable[Outcome]]
JobHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    usage: str
    handler: CommandHandler
    # True for invocations that answer with a form after work that may be slow (a profile look-up):
    # the responder may then keep the platform's short-lived form trigger alive (Slack: a loading modal).
    opens_form: Callable[[CommandInvoked], bool] | None = None


# What a person sees when their acknowledged click or form could not be stored (the unit rolled back).
WRITE_FAILED = "I couldn't save that just now: the database stayed busy. Nothing was recorded; please try again in a moment."


def error_message(text: str) -> Message:
    return Message(summary=text, blocks=(Paragraph(("⚠️ ", text)),))


class PulseBridge:
    def __init__(
        self,
        engine: Engine,
        org: OrgConfig,
        adapters: Mapping[str, ChatAdapter] | None = None,
        clock: Callable[[], datetime] | None = None,
        settings: Settings | None = None,
        features: Iterable[Feature] = (),
    ):
        self.engine = engine
        # Process settings for features that need them (schedules); defaults when built bare in tests.
        self.settings = settings if settings is not None else Settings.model_construct()
        self.org = org
        self.adapters: dict[str, ChatAdapter] = dict(adapters or {})
        self.outbox = Outbox(engine, self.adapters)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.commands: dict[str, CommandSpec] = {}
        self.actions: dict[str, ActionHandler] = {}
        self.forms: dict[str, FormHandler] = {}
        self.jobs: dict[str, JobHandler] = {}
        self.startup_hooks: list[Callable[[PulseBridge], None]] = []
        self.scheduler: Scheduler | None = None
        # Handlers and jobs running now; a shutdown drains them (see adapters/server.py).
        self.inflight = InFlight()
        self.outbox.on_not_in_channel = self._not_in_channel
        # Tells the organisation's admins something once per key (`await notifier(key, message)`);
        # the directory feature provides it, since only it knows who the admins are as people.
        self.admin_notifier: Callable[[str, Message], Awaitable[int]] | None = None
        # Sections of the Home tab, by order (see bot/kernel/personal.py).
        self.home_sections: list = []
        self.job("outbox.retry", _retry_outbox)
        self.on_startup(lambda core: core.scheduler and core.scheduler.every("outbox-retry", "outbox.retry", seconds=60))
        for feature in features:
            feature.register(self)

    async def _not_in_channel(self, exc, item: Outbound) -> None:
        if self.admin_notifier is None:
            return
        dest = item.destination
        await self.admin_notifier(f"not_in_channel:{dest.platform}:{exc.channel_id}", not_in_channel_notice(self, dest, for_admin=True))

    # -- registration -----------------------------------------------------------------------------
    def register(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = adapter

    def command(self, name: str, summary: str, usage: str, handler: CommandHandler, opens_form: Callable[[CommandInvoked], bool] | None = None) -> None:
        self.commands[name] = CommandSpec(name, summary, usage, handler, opens_form)

    def action(self, action_id: str, handler: ActionHandler) -> None:
        """`action_id` is matched against the part of a button's action id before the first ':'."""
        self.actions[action_id] = handler

    def form(self, form_id: str, handler: FormHandler) -> None:
        self.forms[form_id] = handler

    def on_startup(self, hook: Callable[[PulseBridge], None]) -> None:
        """Run once the scheduler is up (e.g. to (re)define a feature's recurring jobs)."""
        self.startup_hooks.append(hook)

    def start(self, scheduler: Scheduler | None) -> None:
        self.scheduler = scheduler
        if scheduler is not None:
            scheduler.start()
        for hook in self.startup_hooks:
            hook(self)

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None

    def job(self, name: str, handler: JobHandler) -> None:
        """A scheduled job handler: `await handler(core, **kwargs)` (see bot/kernel/scheduler.py)."""
        self.jobs[name] = handler

    def help_message(self, unknown: str | None = None) -> Message:
        intro = f"I don't know “{unknown}”. " if unknown else ""
        lines = [Paragraph((Strong(spec.name), " — ", spec.summary)) for spec in self.commands.values()]
        usages = [Context((spec.usage,)) for spec in self.commands.values()]
        return Message(
            summary=f"{intro}Commands: {', '.join(self.commands)}",
            blocks=(Paragraph((intro + "Here is what I can do:",)), *[b for pair in zip(lines, usages) for b in pair]),
        )

    # -- dispatch ---------------------------------------------------------------------------------
    async def handle_command(self, cmd: CommandInvoked, responder: Responder) -> None:
        name = cmd.command.lstrip("/").lower()
        spec = self.commands.get(name)
        if spec is None:
            await responder.reply(self.help_message(None if name in ("help", "") else cmd.command))
            return
        if cmd.raw_text.lower() == "help":
            await responder.reply(Message(summary=spec.usage, blocks=(Paragraph((spec.summary,)), Context((spec.usage,)))))
            return
        hold = getattr(responder, "hold_form", None)
        if spec.opens_form is not None and hold is not None and spec.opens_form(cmd):
            await hold()
        await self._run(lambda: spec.handler(self, cmd), responder, "command", spec.name)

    async def handle_action(self, action: ActionInvoked, responder: Responder) -> None:
        handler = self.actions.get(action.action_id.split(":", 1)[0])
        if handler is None:
            await responder.reply(error_message("That button is no longer active."))
            return
        await self._run(lambda: handler(self, action), responder, "action", action.action_id.split(":", 1)[0])

    async def handle_form(self, submission: FormSubmitted, responder: Responder) -> None:
        handler = self.forms.get(submission.form_id)
        if handler is None:
            await responder.reply(error_message("That form is no longer active."))
            return
        await self._run(lambda: handler(self, submission), responder, "form", submission.form_id)

    async def _run(self, call: Callable[[], Awaitable[Outcome]], responder: Responder, kind: str, name: str) -> None:
        if not self.inflight.accepting:
            await responder.reply(error_message("pulsebridge is restarting; please try again in a minute. Nothing was saved."))
            return
        async with self.inflight.track():
            await self._answer(call, responder, kind, name)

    async def _answer(self, call: Callable[[], Awaitable[Outcome]], responder: Responder, kind: str, name: str) -> None:
        """Answer the actor first, then send the follow-ups (DMs, channel posts) through the outbox."""
        try:
            with timed(HANDLER_LATENCY, kind, name) as label:
                try:
                    outcome = await call()
                except FormInvalid:
                    label.append("invalid")
                    raise
                except UserFacingError:
                    label.append("refused")
                    raise
                except WriteFailed:
                    label.append("write_failed")
                    raise
                except DBAPIError as exc:
                    label.append("write_failed" if is_retryable(exc) else "error")
                    raise
                except BaseException:
                    label.append("error")
                    raise
                label.append("ok")
        except FormInvalid as exc:
            await responder.form_errors(exc.errors)
            return
        except UserFacingError as exc:
            await responder.reply(error_message(exc.text))
            return
        except WriteFailed:
            # The platform was told we received this; never let it vanish without a word.
            await responder.reply(error_message(WRITE_FAILED))
            return
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            log.error("%s %s: write not committed: %s", kind, name, exc.orig)
            await responder.reply(error_message(WRITE_FAILED))
            return
        if outcome.form is not None:
            await responder.open_form(outcome.form)
        if outcome.update is not None:
            try:
                await responder.update(outcome.update)
            except Exception as exc:  # noqa: BLE001 - what the handler stored is committed; say so another way
                # The update is the confirmation (a pulse DM showing "Your answer: 9"); when the
                # platform refuses it, the person must still hear that their click was stored.
                log.warning("%s %s: could not update the message (%s); replying instead", kind, name, exc)
                await responder.reply(outcome.update)
        if outcome.reply is not None:
            await responder.reply(outcome.reply)
        if outcome.followups:
            refused: list = []
            await self.outbox.deliver(outcome.followups, refused)
            for item, _exc in refused:
                await responder.reply(not_in_channel_notice(self, item.destination, for_admin=False))


async def _retry_outbox(core: PulseBridge) -> None:
    sent = await core.outbox.retry()
    if sent:
        log.info("outbox: resent %d message(s)", sent)
