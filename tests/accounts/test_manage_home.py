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


def test_module_links_are_included(client, auth, admin, app):
    import os

    auth.login(admin)
    text = client.get("/manage/").get_data(as_text=True)
    for module in ("consultations", "hearings", "openday", "oversight", "notifications"):
        path = os.path.join(app.template_folder, module, "_manage_links.html")
        if os.path.exists(path):
            # Each present module file contributes at least one link inside the module list.
            assert text.count("<li>") >= 1
