"""The attachment whitelist, judged by content (domain/attachments.py), and the names kept and sent back."""

import io

import pytest

from services.ticketing.api.attachments import byte_range, content_disposition
from services.kit.problems import Problem
from services.ticketing.domain import attachments as a
from tests.ticketing import samples


def sniff(content: bytes) -> str | None:
    return a.sniff(io.BytesIO(content))


@pytest.mark.parametrize("content, expected", [
    (samples.png(), a.PNG),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100, a.JPEG),
    (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20, a.GIF),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40, a.WEBP),
    (samples.pdf(), a.PDF),
    (samples.office("word/document.xml"), a.DOCX),
    (samples.office("xl/workbook.xml"), a.XLSX),
    (samples.office("ppt/presentation.xml"), a.PPTX),
    ("客户反映：移动办公登录失败。\r\n\t日志见附件\n".encode(), a.TEXT_UTF8),
    ("\ufeff带 BOM 的日志".encode(), a.TEXT_UTF8),
    ("客户反映移动办公登录失败，提示密码错误".encode("gb18030"), a.TEXT_GB18030),
])
def test_accepted_types_are_told_by_content(content, expected):
    assert sniff(content) == expected


@pytest.mark.parametrize("content", [
    samples.exe(),                                       # a renamed .exe
    samples.plain_zip(),                                 # an archive that is no Office document
    samples.office("word/document.xml", macros=True),    # a docm renamed docx
    samples.office("word/document.xml", content_types=False),
    b"PK\x03\x04 not really a zip",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,  # legacy OLE2 doc/xls: refused on purpose
    b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40,       # RIFF, but audio
    b"plain text with a NUL\x00 inside",
    b"\x1b[31mterminal escapes\x1b[0m",
    b"",
])
def test_everything_else_is_refused(content):
    assert sniff(content) is None


def test_text_is_judged_on_the_whole_content_not_its_start():
    content = "日志".encode() * 40_000 + b"\x00\x01\x02"  # past the first read block
    assert sniff(content) is None


@pytest.mark.parametrize("raw, kept", [
    ("登录失败截图.png", "登录失败截图.png"),
    ("C:\\Users\\张三\\桌面\\报告.pdf", "报告.pdf"),
    ("../../etc/passwd", "passwd"),
    ("a\x00b\r\n.txt", "ab.txt"),
    ("", "attachment"),
    (None, "attachment"),
    ("...", "attachment"),
    ("长" * 300 + ".docx", "长" * 195 + ".docx"),  # 200 characters, the extension kept
])
def test_filenames_are_cleaned(raw, kept):
    assert a.clean_filename(raw) == kept


def test_content_disposition_carries_the_chinese_name_per_rfc_5987():
    header = content_disposition("整改报告 v2.pdf", inline=False)
    assert header == ('attachment; filename="____ v2.pdf"; '
                      "filename*=UTF-8''%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A%20v2.pdf")
    assert content_disposition("a.png", inline=True).startswith('inline; filename="a.png"')
    header.encode("latin-1")  # every header value must be latin-1


@pytest.mark.parametrize("header, expected", [
    (None, (0, 100)), ("bytes=0-9", (0, 10)), ("bytes=90-", (90, 100)), ("bytes=-10", (90, 100)),
    ("bytes=95-200", (95, 100)), ("bytes=0-1,5-6", (0, 100)), ("items=0-1", (0, 100)),
])
def test_byte_ranges(header, expected):
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-2"])
def test_unsatisfiable_ranges_are_416(header):
    with pytest.raises(Problem) as raised:
        byte_range(header, 100)
    assert raised.value.status == 416
