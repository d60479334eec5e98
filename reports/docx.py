"""Word reports in the national official-document format (GB/T 9704-2012).

`render_docx()` turns a title and a list of blocks into .docx bytes: A4, margins 37/35/28/26 mm
(top/bottom/left/right), a 2号 方正小标宋简体 title, 3号 仿宋_GB2312 body with a two-character
first-line indent on an exact 28.95 pt line (22 lines fill the 225 mm text block), 黑体 "一、"
headings, 楷体_GB2312 "（一）" headings, Latin letters and digits in Times New Roman, the date of
writing at the end and "— 1 —" page numbers in 4号 宋体, right on odd pages and left on even ones.

The styles are built in code on python-docx's default template rather than read from a base .docx
made in Word or WPS. Every measurement is a named constant here, reviewed in diffs and checked by
tests/test_docx.py; a binary base file would have to be kept in sync with those tests by hand, its
changes cannot be reviewed, and WPS rewrites unrelated parts of it on every save. A base file would
also not remove the code: python-docx's `run.font.name` never writes the East Asian font, so every
run still needs its `w:eastAsia` set here (python-docx issues #154, #346, #1139). The fonts are
settings (`FONTS`, overridable per call) because the `_GB2312` faces and 方正小标宋 are installed
separately on most government PCs; where they are missing, pass e.g. {"body": "仿宋", "heading2":
"楷体"}.

The document still carries named paragraph styles (公文标题, 一级标题, 二级标题) and a Normal style set
to the body format, so a secretary editing the file in Word or WPS finds the format in the style
list and the headings in the navigation pane. Paragraph and run formats are also written directly
on every paragraph and run: that is what survives a copy and paste into another unit's template.

Text is made XML-safe: characters XML 1.0 forbids (NUL and the other control characters, lone
surrogates, U+FFFE/U+FFFF) are dropped, and lxml escapes the rest, so markup such as "<script>" or
"&" comes out as literal text.
"""

import copy
import datetime
import functools
import io
import re

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, Twips
from docx.text.paragraph import Paragraph
from docx.text.run import Run

FONTS = {
    "title": "方正小标宋简体",
    "body": "仿宋_GB2312",
    "heading1": "黑体",
    "heading2": "楷体_GB2312",
    "page_number": "宋体",
    "latin": "Times New Roman",
}

KINDS = ("heading1", "heading2", "paragraph")

PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)  # A4
MARGIN_TOP, MARGIN_BOTTOM = Mm(37), Mm(35)
MARGIN_LEFT, MARGIN_RIGHT = Mm(28), Mm(26)
# From the page's bottom edge to the bottom of the page-number line: puts the dashes about 7 mm
# under the text block (GB/T 9704 7.5). Check visually after changing the page-number size.
FOOTER_DISTANCE = Mm(25)

TITLE_SIZE = Pt(22)  # 二号
BODY_SIZE = Pt(16)  # 三号
PAGE_NUMBER_SIZE = Pt(14)  # 四号
# 225 mm / 22 lines = 28.99 pt; 22 × 580 twips would spill past the block, so 579 (28.95 pt).
LINE_PITCH = Twips(579)
FIRST_LINE_INDENT = 2 * BODY_SIZE  # 段首空二字
DATE_RIGHT_INDENT = 4 * BODY_SIZE  # 成文日期右空四字
PAGE_NUMBER_INDENT = PAGE_NUMBER_SIZE  # 单页码居右空一字，双页码居左空一字

# A paragraph that starts with a level-2 heading run in: "（一）统一认识是前提。正文……". The
# heading is everything up to and including the first "。" (ASCII brackets are accepted too, as
# text pasted from elsewhere often has them).
RUN_IN_HEADING = re.compile(r"[（(][一二三四五六七八九十百零〇]+[）)][^。\n]*。")

# XML 1.0 allows tab, newline and carriage return among the C0 controls; DEL and the C1 controls
# are allowed but discouraged, and Word shows them as boxes, so they go too.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# The order of a paragraph's properties (CT_PPr in ECMA-376), for the ones python-docx has no API for.
_PPR_ORDER = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl",
    "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens",
    "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE",
    "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
    "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection",
    "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr",
    "w:sectPr", "w:pPrChange",
)  # fmt: skip
_THEME_FONTS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def render_docx(
    *,
    title: str,
    blocks: list[tuple[str, str]],
    date: datetime.date | None = None,
    fonts: dict | None = None,
) -> bytes:
    """The .docx bytes of a report: `title`, then `blocks`, then `date` if given.

    `blocks` is a list of (kind, text), kind one of "heading1" ("一、基本情况"), "heading2"
    ("（一）统一认识是前提", a heading on its own line) or "paragraph" (body text, whose leading
    "（一）…。" if any is set in the level-2 heading font). `fonts` overrides entries of `FONTS`.
    Leading and trailing white space of each text is dropped (the layout does the indenting); a
    newline inside a text is a line break.
    """
    fonts = _fonts(fonts)
    title = _xml_safe(title).strip()
    document = Document(io.BytesIO(_skeleton(tuple(sorted(fonts.items())))))
    properties = document.core_properties  # the template's say "python-docx", 2013
    properties.title = title
    properties.author = properties.last_modified_by = properties.comments = ""
    properties.created = properties.modified = datetime.datetime.now(datetime.UTC).replace(
        microsecond=0
    )

    body = _Body(document)
    paragraph = body.paragraph("GongwenTitle", align=WD_ALIGN_PARAGRAPH.CENTER, first_line=Pt(0))
    body.run(paragraph, title, fonts["title"], fonts["latin"], TITLE_SIZE)
    body.paragraph()  # the empty line between title and body

    for kind, text in blocks:
        text = _xml_safe(text).strip()
        if kind == "heading1":
            paragraph = body.paragraph("GongwenHeading1")
            body.run(paragraph, text, fonts["heading1"], fonts["latin"], BODY_SIZE)
        elif kind == "heading2":
            paragraph = body.paragraph("GongwenHeading2")
            body.run(paragraph, text, fonts["heading2"], fonts["latin"], BODY_SIZE)
        elif kind == "paragraph":
            paragraph = body.paragraph()
            heading, rest = _split_run_in_heading(text)
            if heading:
                body.run(paragraph, heading, fonts["heading2"], fonts["latin"], BODY_SIZE)
            body.run(paragraph, rest, fonts["body"], fonts["latin"], BODY_SIZE)
        else:
            raise ValueError(f"unknown block kind {kind!r}, expected one of {KINDS}")

    if date is not None:
        body.paragraph()  # 正文下空一行
        paragraph = _add_paragraph(document, align=WD_ALIGN_PARAGRAPH.RIGHT, first_line=Pt(0))
        paragraph.paragraph_format.right_indent = DATE_RIGHT_INDENT
        _add_run(paragraph, _date_text(date), fonts["body"], fonts["latin"], BODY_SIZE)

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@functools.lru_cache(maxsize=8)
def _skeleton(fonts):
    """The .docx bytes of an empty report with these fonts ((name, font) pairs): its page,
    styles and page numbers, set up once per process (they were a third of each export)."""
    fonts = dict(fonts)
    document = Document()
    _set_up_page(document)
    _set_up_styles(document, fonts)
    _add_page_numbers(document, fonts)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _date_text(date: datetime.date) -> str:
    """The date of writing as official documents write it: 2026年6月30日, no zero padding."""
    return f"{date.year}年{date.month}月{date.day}日"


def _fonts(overrides):
    unknown = set(overrides or ()) - set(FONTS)
    if unknown:
        raise ValueError(f"unknown font settings {sorted(unknown)}, expected some of {list(FONTS)}")
    return {**FONTS, **(overrides or {})}


def _xml_safe(text):
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub("", text)


def _split_run_in_heading(text):
    """("（一）统一认识是前提。", "正文……"), or ("", text) when the paragraph has no run-in heading.

    A paragraph that is one sentence ("（二）党员的参与面还不够广。") is a numbered item, not a
    heading followed by text, and stays in the body font.
    """
    match = RUN_IN_HEADING.match(text)
    if not match or match.end() == len(text):
        return "", text
    return text[: match.end()], text[match.end() :]


# Page, styles and defaults.


def _set_up_page(document):
    section = document.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
    section.left_margin, section.right_margin = MARGIN_LEFT, MARGIN_RIGHT
    section.footer_distance = FOOTER_DISTANCE
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH.twips))
    document.settings.odd_and_even_pages_header_footer = True
    # The theme's East Asian fonts follow this language; the template says Japanese (MS Mincho).
    theme_lang = document.settings.element.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:eastAsia"), "zh-CN")


def _set_up_styles(document, fonts):
    styles = document.styles
    # Document defaults: the template sends CJK text to the theme's Japanese font and marks it
    # as English.
    defaults = styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(defaults, fonts["body"], fonts["latin"])
    lang = defaults.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        defaults.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")

    normal = styles["Normal"]
    _format_paragraph(normal.paragraph_format)
    _set_fonts(normal.element.get_or_add_rPr(), fonts["body"], fonts["latin"])
    normal.font.size = BODY_SIZE

    for style_id, name, font, size, level in (
        ("GongwenTitle", "公文标题", fonts["title"], TITLE_SIZE, None),
        ("GongwenHeading1", "一级标题", fonts["heading1"], BODY_SIZE, 0),
        ("GongwenHeading2", "二级标题", fonts["heading2"], BODY_SIZE, 1),
    ):
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.style_id = style_id
        style.base_style = normal
        style.quick_style = True
        _set_fonts(style.element.get_or_add_rPr(), font, fonts["latin"])
        style.font.size = size
        if level is None:
            style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
            style.paragraph_format.first_line_indent = Pt(0)
        else:
            style.paragraph_format.keep_with_next = True
            _set_ppr_val(style.element.get_or_add_pPr(), "w:outlineLvl", str(level))


def _format_paragraph(
    paragraph_format, *, align=WD_ALIGN_PARAGRAPH.JUSTIFY, first_line=FIRST_LINE_INDENT
):
    paragraph_format.alignment = align
    paragraph_format.first_line_indent = first_line
    paragraph_format.line_spacing = LINE_PITCH
    paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    paragraph_format.space_before = paragraph_format.space_after = Pt(0)
    # Widow control moves single lines to the next page and breaks the 22-line page.
    paragraph_format.widow_control = False


def _set_fonts(rPr, east_asia, latin):
    """Name every font of `rPr` explicitly; theme attributes would win over the names."""
    fonts = rPr.get_or_add_rFonts()
    for attribute in _THEME_FONTS:
        fonts.attrib.pop(qn(attribute), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:cs"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    # Characters both scripts use (“” — …) take the East Asian font, full width.
    fonts.set(qn("w:hint"), "eastAsia")


def _set_ppr_val(pPr, tag, value):
    """Set `<tag w:val=value>` in a paragraph's properties, in the order the schema demands."""
    element = pPr.find(qn(tag))
    if element is None:
        element = OxmlElement(tag)
        pPr.insert_element_before(element, *_PPR_ORDER[_PPR_ORDER.index(tag) + 1 :])
    element.set(qn("w:val"), value)


# Paragraphs and runs.


def _add_paragraph(document, style_id=None, **format_options):
    paragraph = document.add_paragraph()
    if style_id:
        paragraph._p.get_or_add_pPr().get_or_add_pStyle().val = style_id
    _format_paragraph(paragraph.paragraph_format, **format_options)
    return paragraph


def _add_run(paragraph, text, east_asia, latin, size):
    run = paragraph.add_run(_xml_safe(text))
    _set_fonts(run._r.get_or_add_rPr(), east_asia, latin)
    run.font.size = size
    return run


class _Body:
    """Adds the body's paragraphs and runs as copies of the first of each format: a report's
    hundred-odd paragraphs and runs come in a handful of formats, and setting every property
    of each through python-docx was half of an export. The XML is the same as _add_paragraph's
    and _add_run's (a test compares them)."""

    def __init__(self, document):
        self.document = document
        self.paragraphs = {}
        self.runs = {}

    def paragraph(self, style_id=None, **format_options):
        key = (style_id, *sorted(format_options.items()))
        if key not in self.paragraphs:
            paragraph = _add_paragraph(self.document, style_id, **format_options)
            self.paragraphs[key] = copy.deepcopy(paragraph._p)
            return paragraph
        p = copy.deepcopy(self.paragraphs[key])
        self.document.element.body.sectPr.addprevious(p)
        return Paragraph(p, self.document)

    def run(self, paragraph, text, east_asia, latin, size):
        key = (east_asia, latin, size)
        if key not in self.runs:
            run = _add_run(paragraph, text, east_asia, latin, size)
            self.runs[key] = copy.deepcopy(run._r)
            self.runs[key].text = ""
            return run
        r = copy.deepcopy(self.runs[key])
        paragraph._p.append(r)
        run = Run(r, paragraph)
        run.text = _xml_safe(text)
        return run


def _add_page_numbers(document, fonts):
    """ "— 1 —" in 4号 宋体: odd pages right and even pages left, one character in."""
    section = document.sections[0]
    font = fonts["page_number"]  # 半角宋体阿拉伯数字: digits and dashes in 宋体 too
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph_format = paragraph.paragraph_format
        paragraph_format.alignment = align
        paragraph_format.first_line_indent = Pt(0)
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            paragraph_format.right_indent = PAGE_NUMBER_INDENT
        else:
            paragraph_format.left_indent = PAGE_NUMBER_INDENT
        # The body's line grid would make the footer line 28.95 pt tall and move the number.
        _set_ppr_val(paragraph._p.get_or_add_pPr(), "w:snapToGrid", "0")
        _add_run(paragraph, "— ", font, font, PAGE_NUMBER_SIZE)
        for piece in ("begin", " PAGE ", "separate", "1", "end"):
            run = _add_run(paragraph, "", font, font, PAGE_NUMBER_SIZE)
            if piece == "1":
                run.text = piece  # shown until the field is updated
            elif piece == " PAGE ":
                instruction = OxmlElement("w:instrText")
                instruction.set(qn("xml:space"), "preserve")
                instruction.text = piece
                run._r.append(instruction)
            else:
                field_char = OxmlElement("w:fldChar")
                field_char.set(qn("w:fldCharType"), piece)
                run._r.append(field_char)
        _add_run(paragraph, " —", font, font, PAGE_NUMBER_SIZE)
