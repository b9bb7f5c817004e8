"""The staff and admin landing page."""


def test_residents_are_refused(client, auth, resident):
    auth.login(resident)
    assert client.get("/manage/").status_code == 403


def test_the_admin_sees_the_account_pages(client, auth, admin):
    auth.login(admin)
    text = client.get("/manage/").get_data(as_text=True)
    for path in ("/manage/accounts/departments", "/manage/accounts/tags", "/manage/audit"):
        assert f'href="{path}"' in text


def test_staff_see_the_audit_log_but_not_admin_pages(client, auth, staff, department):
    auth.login(staff)
    text = client.get("/manage/").get_data(as_text=True)
    assert 'href="/manage/audit"' in text and "/manage/accounts/departments" not in text
    assert department.name in text


def test_each_modules_links_are_included(client, auth, admin, app):
    import os

    auth.login(admin)
    text = client.get("/manage/").get_data(as_text=True)
    found = 0
    for module in ("consultations", "hearings", "openday", "oversight", "notifications"):
        path = os.path.join(app.template_folder, module, "_manage_links.html")
        if not os.path.exists(path):
            continue  # "ignore missing": a module without links leaves nothing behind
        found += 1
        with app.test_request_context("/manage/"):
            from flask import render_template
            from flask_login import login_user

            login_user(admin)
            snippet = render_template(f"{module}/_manage_links.html").strip()
        for href in __import__("re").findall(r'href="([^"]+)"', snippet):
            assert f'href="{href}"' in text, (module, href)
    assert found >= 1
