"""The Word report: GB/T 9704-2012 page, fonts, headings, page numbers and safe text."""

import datetime
import io
import zipfile

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt

from reports import docx
from reports.docx import FONTS, render_docx

TITLE = "县“互助共建”活动开展情况汇报"
BLOCKS = [
    ("heading1", "一、基本情况"),
    ("paragraph", "全县共有结对党支部120个，其中机关党支部60个、农村党支部60个。"),
    ("heading1", "三、几点体会"),
    ("heading2", "（一）统一认识是前提"),
    ("paragraph", "（二）领导重视是关键。在开展“互助共建”活动中，县委领导多次过问指导。"),
    ("paragraph", "（二）党员的参与面还不够广，共建双方党支部还未找到最佳结合点。"),
    ("paragraph", "完成退耕还林2500亩，培训达130人次，捐款73710元（ABC组）。"),
]
DATE = datetime.date(2026, 6, 30)


def render(**kwargs):
    kwargs = {"title": TITLE, "blocks": BLOCKS, "date": DATE, **kwargs}
    return Document(io.BytesIO(render_docx(**kwargs)))


@pytest.fixture(scope="module")
def document():
    return render()


def paragraph_with(document, text):
    return next(p for p in document.paragraphs if p.text == text)


def east_asia(run):
    return run._element.rPr.rFonts.get(qn("w:eastAsia"))


def mm(length):
    return length / 36000  # EMU per mm


def test_page_is_a4_with_official_margins(document):
    section = document.sections[0]
    assert mm(section.page_width) == pytest.approx(210, abs=0.1)
    assert mm(section.page_height) == pytest.approx(297, abs=0.1)
    assert mm(section.top_margin) == pytest.approx(37, abs=0.1)
    assert mm(section.bottom_margin) == pytest.approx(35, abs=0.1)
    assert mm(section.left_margin) == pytest.approx(28, abs=0.1)
    assert mm(section.right_margin) == pytest.approx(26, abs=0.1)


def test_line_grid_fits_22_lines_a_page(document):
    grid = document.sections[0]._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "lines"
    assert grid.get(qn("w:linePitch")) == "579"
    # 22 lines fill, and do not spill past, the 225 mm text block
    assert 22 * 579 / 20 <= 225 / 25.4 * 72 < 22 * 580 / 20


def test_title_is_centred_22pt_xiaobiaosong_followed_by_an_empty_line(document):
    title = document.paragraphs[0]
    assert title.text == TITLE
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    (run,) = title.runs
    assert run.font.size == Pt(22)
    assert east_asia(run) == "方正小标宋简体"
    assert document.paragraphs[1].text == ""
    assert document.paragraphs[2].text == "一、基本情况"


def test_level_one_heading_is_heiti_16pt_indented_two_characters(document):
    heading = paragraph_with(document, "三、几点体会")
    assert heading.paragraph_format.first_line_indent == Pt(32)
    (run,) = heading.runs
    assert east_asia(run) == "黑体"
    assert run.font.size == Pt(16)


def test_level_two_heading_on_its_own_line_is_kaiti(document):
    (run,) = paragraph_with(document, "（一）统一认识是前提").runs
    assert east_asia(run) == "楷体_GB2312"
    assert run.font.size == Pt(16)


def test_run_in_level_two_heading_is_kaiti_and_the_rest_fangsong(document):
    paragraph = paragraph_with(document, BLOCKS[4][1])
    heading, body = paragraph.runs
    assert heading.text == "（二）领导重视是关键。"
    assert east_asia(heading) == "楷体_GB2312"
    assert body.text.startswith("在开展")
    assert east_asia(body) == "仿宋_GB2312"


def test_one_sentence_numbered_item_stays_in_the_body_font(document):
    (run,) = paragraph_with(document, BLOCKS[5][1]).runs
    assert east_asia(run) == "仿宋_GB2312"


def test_ascii_brackets_also_make_a_run_in_heading():
    document = render(blocks=[("paragraph", "(三)制度建设是保证。工作制度问题带有根本性。")])
    heading, body = document.paragraphs[2].runs
    assert heading.text == "(三)制度建设是保证。"
    assert east_asia(heading) == "楷体_GB2312"
    assert east_asia(body) == "仿宋_GB2312"


def test_body_paragraphs_are_fangsong_with_indent_and_exact_line_spacing(document):
    body = [paragraph_with(document, text) for kind, text in BLOCKS if kind == "paragraph"]
    for paragraph in body:
        paragraph_format = paragraph.paragraph_format
        assert paragraph_format.first_line_indent == Pt(32)
        assert paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert paragraph_format.line_spacing.pt == pytest.approx(28.95)
        assert 'w:lineRule="exact"' in paragraph._p.xml
        assert paragraph.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
    for run in body[0].runs + body[3].runs:
        assert east_asia(run) == "仿宋_GB2312"
        assert run.font.size == Pt(16)


def test_every_run_names_its_east_asian_and_latin_fonts_without_theme_fonts(document):
    runs = [run for paragraph in document.paragraphs for run in paragraph.runs]
    assert len(runs) >= 9
    for run in runs:
        fonts = run._element.rPr.rFonts
        assert fonts.get(qn("w:eastAsia")) in FONTS.values()
        assert fonts.get(qn("w:ascii")) == "Times New Roman"
        assert fonts.get(qn("w:hAnsi")) == "Times New Roman"
        assert not any(name.endswith("Theme") or name.endswith("theme") for name in fonts.attrib)


def test_document_defaults_are_chinese_not_the_templates_japanese(document):
    defaults = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    rpr = defaults.find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert fonts.get(qn("w:eastAsiaTheme")) is None
    assert rpr.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"
    theme_lang = document.settings.element.find(qn("w:themeFontLang"))
    assert theme_lang.get(qn("w:eastAsia")) == "zh-CN"


def test_normal_style_is_the_body_format_for_text_typed_later(document):
    normal = document.styles["Normal"]
    assert normal.font.size == Pt(16)
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert normal.paragraph_format.first_line_indent == Pt(32)
    assert normal.paragraph_format.line_spacing.pt == pytest.approx(28.95)
    assert document.styles["一级标题"].element.pPr.find(qn("w:outlineLvl")) is not None


def test_page_numbers_odd_right_even_left_in_14pt_songti(document):
    section = document.sections[0]
    assert document.settings.odd_and_even_pages_header_footer
    assert document.settings.element.find(qn("w:evenAndOddHeaders")) is not None
    for footer, align, indent in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right_indent"),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left_indent"),
    ):
        (paragraph,) = footer.paragraphs
        assert paragraph.alignment == align
        assert getattr(paragraph.paragraph_format, indent) == Pt(14)
        assert paragraph.text == "— 1 —"
        assert paragraph.runs[0].text == "— "
        assert paragraph.runs[-1].text == " —"
        assert [i.text for i in paragraph._p.iter(qn("w:instrText"))] == [" PAGE "]
        kinds = [f.get(qn("w:fldCharType")) for f in paragraph._p.iter(qn("w:fldChar"))]
        assert kinds == ["begin", "separate", "end"]
        for run in paragraph.runs:
            assert run.font.size == Pt(14)
            assert east_asia(run) == "宋体"


def test_date_is_written_unpadded_and_right_aligned_four_characters_in(document):
    date = document.paragraphs[-1]
    assert date.text == "2026年6月30日"
    assert date.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert date.paragraph_format.right_indent == Pt(64)
    assert east_asia(date.runs[0]) == "仿宋_GB2312"
    assert render(date=datetime.date(2026, 1, 5)).paragraphs[-1].text == "2026年1月5日"


def test_without_a_date_the_report_ends_with_the_last_block():
    document = render(date=None)
    assert document.paragraphs[-1].text == BLOCKS[-1][1]


def test_fonts_can_be_overridden_per_call():
    document = render(fonts={"body": "仿宋", "heading2": "楷体"})
    assert east_asia(paragraph_with(document, BLOCKS[1][1]).runs[0]) == "仿宋"
    assert east_asia(paragraph_with(document, "（一）统一认识是前提").runs[0]) == "楷体"
    assert east_asia(document.paragraphs[0].runs[0]) == "方正小标宋简体"
    with pytest.raises(ValueError):
        render(fonts={"boby": "仿宋"})


def test_unknown_block_kind_is_refused():
    with pytest.raises(ValueError):
        render(blocks=[("heading3", "1.")])


def test_hostile_text_is_written_literally_and_the_file_still_opens():
    hostile = "<script>alert(1)</script> A&B \x00\x0b\x1f\ud800\uffff 😀𠀀"
    document = render(
        title=hostile,
        blocks=[("heading1", hostile), ("heading2", hostile), ("paragraph", hostile)],
    )
    expected = "<script>alert(1)</script> A&B  😀𠀀"
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == expected
    assert texts.count(expected) == 4
    assert document.core_properties.title == expected


def test_texts_are_trimmed_because_the_layout_does_the_indenting():
    document = render(blocks=[("paragraph", "\u3000\u3000全县开展活动。  ")])
    assert document.paragraphs[2].text == "全县开展活动。"


def test_copied_paragraphs_and_runs_are_the_xml_python_docx_writes(monkeypatch):
    # The body copies the first paragraph and run of each format; writing every one through
    # python-docx, as the first ones are, gives the same document.xml byte for byte.
    blocks = [*BLOCKS, *BLOCKS, ("paragraph", "一行\n两行\t制表"), ("heading2", "（三）再一个")]

    def document_xml():
        package = zipfile.ZipFile(io.BytesIO(render_docx(title=TITLE, blocks=blocks, date=DATE)))
        return package.read("word/document.xml")

    copied = document_xml()
    monkeypatch.setattr(
        docx._Body, "paragraph", lambda self, *a, **k: docx._add_paragraph(self.document, *a, **k)
    )
    monkeypatch.setattr(docx._Body, "run", lambda self, paragraph, *a: docx._add_run(paragraph, *a))
    assert copied == document_xml()
