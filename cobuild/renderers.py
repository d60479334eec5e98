"""The form renderer: the project's templates (TemplatesSetting), with one widget written in Python."""

import html

from django.forms.renderers import TemplatesSetting
from django.utils.formats import localize
from django.utils.safestring import SafeData, mark_safe

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


def _escape(value):
    """As the templates write `{{ value|stringformat:'s' }}`: escaped unless marked safe."""
    value = str(value)
    return value if isinstance(value, SafeData) else html.escape(value)


def _text(value):
    """As the templates write `{{ value }}`: localized (a date, a number) first."""
    return _escape(localize(value))


def _attrs(attrs):
    """Django's widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False."""
    return "".join(
        f" {_text(name)}" if value is True else f' {_text(name)}="{_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class Renderer(TemplatesSetting):
    """A <select> whose options all use Django's own option template is written here: the
    markup Django's select.html and select_option.html write (labels localized and escaped as
    `{{ }}` does), but for the line breaks between options. Through the template engine the
    dashboard's scope list of 29 options took 0.45 ms longer. A select whose options have a
    template of their own, and every other widget, render through the templates."""

    def render(self, template_name, context, request=None):
        widget = context.get("widget", {})
        groups = widget.get("optgroups") if template_name == SELECT else None
        if groups is None or any(
            option["template_name"] != OPTION for _, options, _ in groups for option in options
        ):
            return super().render(template_name, context, request)
        body = []
        for label, options, _ in groups:
            if label:
                body.append(f'\n  <optgroup label="{_text(label)}">')
            body.extend(
                f'\n  <option value="{_escape(o["value"])}"{_attrs(o["attrs"])}>'
                f"{_text(o['label'])}</option>"
                for o in options
            )
            if label:
                body.append("\n  </optgroup>")
        name, attrs = _text(widget["name"]), _attrs(widget["attrs"])
        return mark_safe(f'<select name="{name}"{attrs}>{"".join(body)}\n</select>')
