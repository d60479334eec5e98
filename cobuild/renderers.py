"""The form renderer: the project's templates (TemplatesSetting), with one widget written in Python."""

import html

from django.forms.renderers import TemplatesSetting
from django.utils.safestring import mark_safe

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


def _escape(value):
    """Django's conditional_escape, without its lazy-string wrapper (called for every option)."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def _attrs(attrs):
    """Django's widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False."""
    return "".join(
        f" {name}" if value is True else f' {name}="{_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class Renderer(TemplatesSetting):
    """A <select> whose options all use Django's own option template is written here, as
    Django's select.html and select_option.html would write it: the dashboard's scope list of 29
    options took 0.45 ms longer through the template engine (and a province's list of 110 four
    times that). A select whose options have a template of their own, and every other widget,
    render through the templates."""

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
                body.append(f'\n  <optgroup label="{_escape(label)}">')
            body.extend(
                f'\n  <option value="{_escape(o["value"])}"{_attrs(o["attrs"])}>'
                f"{_escape(o['label'])}</option>"
                for o in options
            )
            if label:
                body.append("\n  </optgroup>")
        name, attrs = _escape(widget["name"]), _attrs(widget["attrs"])
        return mark_safe(f'<select name="{name}"{attrs}>{"".join(body)}\n</select>')
