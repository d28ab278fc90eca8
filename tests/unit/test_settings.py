import pytest

from guichet.settings import SettingsError, load_settings


def test_given_defaults_then_sqlite_is_the_embedded_database(tmp_path):
    s = load_settings({"data_dir": str(tmp_path)})
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.http_host == "127.0.0.1"


@pytest.mark.parametrize(("override", "named"), [
    ({"http_port": "99999"}, "GUICHET_HTTP_PORT"),
    ({"database_url": "mysql://x"}, "GUICHET_DATABASE_URL"),
    ({"timezone": "Mars/Olympus"}, "GUICHET_TIMEZONE"),
    ({"opening_time": "25:00"}, "GUICHET_OPENING_TIME"),
    ({"opening_days": "mon,funday"}, "GUICHET_OPENING"),
    ({"ticket_prefix": "gu"}, "GUICHET_TICKET_PREFIX"),
    ({"no_such_setting": "1"}, "GUICHET_NO_SUCH_SETTING"),
])
def test_given_invalid_setting_then_start_stops_naming_it(override, named):
    with pytest.raises(SettingsError) as err:
        load_settings(override)
    assert named in str(err.value)


def test_given_environment_then_it_overrides_the_file(tmp_path, monkeypatch):
    f = tmp_path / "guichet.toml"
    f.write_text('http_port = 9000\nsite = "backup"\n')
    monkeypatch.setenv("GUICHET_SETTINGS_FILE", str(f))
    monkeypatch.setenv("GUICHET_HTTP_PORT", "9100")
    s = load_settings()
    assert (s.http_port, s.site) == (9100, "backup")


def test_given_cli_with_bad_setting_then_exit_code_2_and_message(monkeypatch, capsys):
    from guichet.cli import main

    monkeypatch.setenv("GUICHET_HTTP_PORT", "not-a-port")
    assert main(["migrate"]) == 2
    assert "GUICHET_HTTP_PORT" in capsys.readouterr().err
