"""A value read from outside is printed as written: never as markup, never as a control or bidi character."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from services.cli.output import neutralised, shown


def _printed(value: object) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system="truecolor", force_terminal=True).print(shown(value))
    return out.getvalue()


@pytest.mark.parametrize(
    "markup", ["[/bold]", "[link=https://example.org]click[/link]", "[red]x", ":warning:"]
)
def test_markup_in_a_value_is_printed_as_written_and_styles_nothing(markup: str) -> None:
    printed = _printed(f"reason {markup}")
    assert printed == f"reason {markup}\n"  # no escape sequence: no style, no link, no emoji


@pytest.mark.parametrize(
    ("hostile", "seen"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("txt.exe\u202egpj", "txt.exe\\u202egpj"),
        ("\u2066isolate\u2069 \u200fmark", "\\u2066isolate\\u2069 \\u200fmark"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("lone \ud800", "lone \\ud800"),
        ("line\u2028sep", "line\\u2028sep"),
        ("two\nlines\r", "two\\x0alines\\x0d"),
    ],
)
def test_control_and_invisible_characters_are_written_as_escapes(hostile: str, seen: str) -> None:
    assert neutralised(hostile) == seen


def test_a_multiline_value_keeps_its_lines_and_tabs_only() -> None:
    assert neutralised("a\n\tb\x1b\r", lines=True) == "a\n\tb\\x1b\\x0d"


def test_ordinary_text_in_any_script_is_kept() -> None:
    text = "Amélie Dufour — São Tomé, 東京, مرحبا 🌍"
    assert neutralised(text) == text


def test_a_non_string_value_is_shown_as_its_text() -> None:
    assert neutralised(b"\x00key") == "b'\\x00key'"
    assert str(shown(42)) == "42"


def test_version_prints_the_packages_version_and_exits_zero() -> None:
    from importlib import metadata

    from typer.testing import CliRunner

    from services.cli.app import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"envol {metadata.version('envol')}"


def test_a_broker_out_of_reach_ends_a_command_with_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import app

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setattr("sys.argv", ["envol", "status"])
    with pytest.raises(SystemExit) as ended:
        app.main()
    assert ended.value.code == 4  # a server out of reach (services.cli.failures.ExitCode)
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert printed.err.startswith("envol: KafkaConnectionError") and "127.0.0.1:9" in printed.err
