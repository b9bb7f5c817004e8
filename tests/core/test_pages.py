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
