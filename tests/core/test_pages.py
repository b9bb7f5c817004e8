def test_home_page_shows_the_three_sections(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for section in ("征询意见", "列席会议", "政府开放月"):
        assert section in page


def test_healthz_answers_ok_with_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path):
    from app import create_app
    from config import TestingConfig

    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
                      "UPLOAD_DIR": str(tmp_path)}, config_class=TestingConfig)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
