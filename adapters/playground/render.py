"""Neutral messages and forms → HTML fragments. Every string is escaped (markupsafe)."""

from __future__ import annotations

from markupsafe import Markup, escape

from bot.kernel.messages import (
    Actions,
    Context,
    DateInput,
    Fields,
    Form,
    Heading,
    Inline,
    Mention,
    Message,
    Paragraph,
    Quote,
    Select,
    Strong,
    TextInput,
    UserPicker,
    UserRef,
    UserSelect,
)


def _inline(parts: tuple[Inline, ...]) -> Markup:
    out = Markup("")
    for part in parts:
        if isinstance(part, Mention):
            out += Markup('<span class="mention">@{}</span>').format(part.user.display_name or part.user.external_id)
        elif isinstance(part, Strong):
            out += Markup("<strong>{}</strong>").format(part.text)
        else:
            out += escape(part)
    return out


def _picker(picker: UserPicker, post_id: int, people: list[UserRef]) -> Markup:
    options = Markup("").join(
        Markup('<option value="{}">{}</option>').format(u.external_id, u.display_name or u.external_id) for u in (picker.choices or people)
    )
    return Markup(
        '<span class="picker"><select aria-label="{ph}"><option value="">{ph}</option>{opts}</select>'
        '<button type="button" class="action" data-picker="1" data-post="{post}" data-action-id="{aid}" data-value="">{label}</button></span>'
    ).format(ph=picker.placeholder, opts=options, post=post_id, aid=picker.action_id, label=picker.submit_label)


def _button(b, post_id: int) -> Markup:
    return Markup('<button type="button" class="action {}" data-post="{}" data-action-id="{}" data-value="{}">{}</button>').format(
        b.style or "", post_id, b.action_id, b.value, b.label
    )


def message_html(message: Message, post_id: int, people: list[UserRef] = ()) -> Markup:
    out = Markup("")
    for block in message.blocks:
        if isinstance(block, Heading):
            out += Markup("<h3>{}</h3>").format(block.text)
        elif isinstance(block, Paragraph):
            out += Markup("<p>{}</p>").format(_inline(block.parts))
        elif isinstance(block, Quote):
            out += Markup("<blockquote>{}</blockquote>").format(block.text)
        elif isinstance(block, Fields):
            rows = Markup("").join(Markup("<dt>{}</dt><dd>{}</dd>").format(k, v) for k, v in block.pairs)
            out += Markup("<dl>{}</dl>").format(rows)
        elif isinstance(block, Context):
            out += Markup('<p class="context">{}</p>').format(_inline(block.parts))
        elif isinstance(block, Actions):
            buttons = Markup("").join(
                _picker(b, post_id, list(people)) if isinstance(b, UserPicker) else _button(b, post_id) for b in block.buttons
            )
            out += Markup('<div class="actions">{}</div>').format(buttons)
    if not message.blocks:
        out += Markup("<p>{}</p>").format(message.summary)
    return out


def _field(field, people: list[UserRef], error: str | None) -> Markup:
    required = "" if field.optional else " required"
    says_optional = "optional" in field.label.lower()
    label = Markup('<label for="f-{id}">{label}{opt}</label>').format(
        id=field.id, label=field.label, opt=" (optional)" if field.optional and not says_optional else ""
    )
    hint = Markup("")
    if isinstance(field, TextInput):
        maxlen = Markup(' maxlength="{}"').format(field.max_length) if field.max_length else ""
        placeholder = Markup(' placeholder="{}"').format(field.placeholder) if field.placeholder else ""
        if field.multiline:
            control = Markup('<textarea id="f-{}" name="{}"{}{}{}>{}</textarea>').format(
                field.id, field.id, maxlen, placeholder, Markup(required), field.initial or ""
            )
        else:
            control = Markup('<input id="f-{}" name="{}" value="{}"{}{}{}>').format(
                field.id, field.id, field.initial or "", maxlen, placeholder, Markup(required)
            )
    elif isinstance(field, Select) and field.multiple:
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(v, Markup(" selected") if v in field.initial_values else "", label_) for v, label_ in field.options
        )
        control = Markup('<select id="f-{}" name="{}" data-multi="1" multiple{}>{}</select>').format(field.id, field.id, Markup(required), options)
        hint = Markup('<span class="hint">Ctrl- or ⌘-click to pick several.</span>')
    elif isinstance(field, Select):
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(v, Markup(" selected") if v == field.initial else "", label_) for v, label_ in field.options
        )
        control = Markup('<select id="f-{}" name="{}"{}><option value=""></option>{}</select>').format(field.id, field.id, Markup(required), options)
    elif isinstance(field, UserSelect):
        choices = field.choices or tuple(people)
        options = Markup("").join(Markup('<option value="{}">{}</option>').format(u.external_id, u.display_name or u.external_id) for u in choices)
        multiple = Markup(" multiple") if field.multiple else Markup("")
        control = Markup('<select id="f-{}" name="{}" data-multi="{}"{}{}>{}</select>').format(
            field.id, field.id, "1" if field.multiple else "", multiple, Markup(required), options
        )
        if field.multiple:
            hint = Markup('<span class="hint">Ctrl- or ⌘-click to pick several.</span>')
    elif isinstance(field, DateInput):
        control = Markup('<input type="date" id="f-{}" name="{}" value="{}"{}>').format(field.id, field.id, field.initial or "", Markup(required))
    else:  # pragma: no cover - closed union
        raise TypeError(field)
    err = Markup('<span class="error">{}</span>').format(error) if error else Markup("")
    return Markup('<div class="field">{}{}{}{}</div>').format(label, control, hint, err)


def form_html(form: Form, post_id: int, people: list[UserRef], errors: dict[str, str]) -> Markup:
    intro = message_html(Message(summary=form.title, blocks=form.intro), post_id) if form.intro else Markup("")
    fields = Markup("").join(_field(f, people, errors.get(f.id)) for f in form.fields)
    return Markup(
        '<form class="form" data-post="{post}" data-form-id="{fid}" data-metadata="{meta}"><h3>{title}</h3>{intro}{fields}'
        '<button type="submit" class="primary">{submit}</button></form>'
    ).format(post=post_id, fid=form.form_id, meta=form.metadata, title=form.title, intro=intro, fields=fields, submit=form.submit_label)
