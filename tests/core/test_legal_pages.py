"""The user agreement and the privacy policy: both languages, linked from register and the footer, with the
retention figures the settings really use and links to the pages that download and delete one's data."""
import pytest

# No date logic here: twice in CI (slow), not nine times (CI budget).
pytestmark = pytest.mark.slow


def test_terms_and_privacy_in_both_languages_linked_from_register_and_footer(client, app):
    register = client.get("/accounts/register").get_data(as_text=True)
    assert 'href="/terms"' in register and 'href="/privacy"' in register
    home = client.get("/").get_data(as_text=True)
    footer = home.split('<footer class="site-footer">')[1]
    assert 'href="/terms"' in footer and 'href="/privacy"' in footer

    privacy = client.get("/privacy").get_data(as_text=True)
    assert "<h1>个人信息保护政策</h1>" in privacy
    assert f"{app.config['OUTBOX_KEEP_DAYS']} 天后删除" in privacy
    assert 'href="/accounts/data"' in privacy and 'href="/accounts/delete"' in privacy
    for section in ("我们收集什么，为什么", "谁能看到", "保存多久", "下载和删除"):
        assert section in privacy
    terms = client.get("/terms").get_data(as_text=True)
    assert "<h1>用户协议</h1>" in terms and f"{app.config['FEEDBACK_REPORT_DUE_DAYS']} 天内" in terms

    privacy_en = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "Privacy" in privacy_en and "What we collect, and why" in privacy_en and "我们收集什么" not in privacy_en
    assert f"deleted after {app.config['OUTBOX_KEEP_DAYS']} days" in privacy_en
    terms_en = client.get("/terms?lang=en").get_data(as_text=True)
    assert "What the platform does" in terms_en and "平台做什么" not in terms_en
