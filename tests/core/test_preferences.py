"""The language switch and the large-text (适老化) mode are remembered for the visitor."""


def test_lang_parameter_switches_to_english_and_is_remembered(client):
    response = client.get("/?lang=en")
    assert 'lang="en"' in response.get_data(as_text=True)
    assert "Consultations" in response.get_data(as_text=True)
    # The next page, without the parameter, stays in English.
    again = client.get("/accounts/login")
    assert 'lang="en"' in again.get_data(as_text=True)
    assert "Sign in" in again.get_data(as_text=True)


def test_switching_back_to_chinese(client):
    client.get("/?lang=en")
    response = client.get("/?lang=zh")
    assert 'lang="zh-CN"' in response.get_data(as_text=True)
    assert "征询意见" in client.get("/").get_data(as_text=True)


def test_browser_language_is_used_when_nothing_was_chosen(client):
    response = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in response.get_data(as_text=True)


def test_large_text_mode_persists(client):
    assert 'class="view-large"' in client.get("/?view=large").get_data(as_text=True)
    assert 'class="view-large"' in client.get("/accounts/login").get_data(as_text=True)
    assert 'class="view-standard"' in client.get("/?view=standard").get_data(as_text=True)


def test_unknown_preference_values_are_ignored(client):
    response = client.get("/?lang=xx&view=<script>")
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("</head>")[0]


def test_translation_outside_a_request_uses_the_default_language(app):
    """Jobs and commands translate too: without a request the default language applies, force_locale overrides."""
    from flask_babel import force_locale, gettext

    assert gettext("征询意见") == "征询意见"
    with force_locale("en"):
        assert gettext("征询意见") == "Consultations"
