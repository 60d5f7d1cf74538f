def test_home_requires_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_sign_in_shows_only_my_organizations(client, make):
    mine, other = make.organization(name="Mine GmbH"), make.organization(name="Other AG")
    make.line(mine)
    user = make.user("alice")
    make.membership(user, mine, role="analyst")
    response = client.post("/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert "Mine GmbH" in page and "Analyst" in page
    assert "Other AG" not in page and other.account_number not in page


def test_wrong_password_is_refused(client, make):
    make.user("bob")
    response = client.post("/login/", {"username": "bob", "password": "nope"})
    assert response.status_code == 200 and "didn't match" in response.content.decode()


def test_healthz(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
