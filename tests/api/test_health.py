def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["storage"] == "ok"
    assert body["limiter"] == "ok" and body["version"]


def test_health_names_the_database_when_it_is_unusable(env, tmp_path):
    from app import create_app
    from config import load_config

    broken = tmp_path / "not-a-db"
    broken.mkdir()  # a folder where the database file should be: sqlite cannot open it
    app = create_app(load_config({**env, "PHOTONIX_DATABASE_URL": f"sqlite:///{broken}"}))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() | {"version": None} == {
        "status": "unhealthy", "database": "unavailable", "storage": "ok", "limiter": "ok", "version": None,
        "streams": 0}


def test_health_names_a_vanished_photos_folder(client, photos_dir):
    photos_dir.rmdir()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["storage"] == "photos folder unreadable"
    assert response.get_json()["database"] == "ok"


def test_health_names_an_unwritable_data_folder(env, tmp_path, db_kind):
    import shutil

    from app import create_app
    from config import load_config
    from services.database import init_db

    if db_kind == "sqlite":  # keep the database outside the folder that is about to break
        env = {**env, "PHOTONIX_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}"}
    app = create_app(load_config(env))
    init_db()
    data = tmp_path / "data"
    shutil.rmtree(data)
    data.write_text("a file where the data folder was")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["storage"] == "data folder not writable"
    assert response.get_json()["database"] == "ok"


def test_health_names_an_unreachable_limiter_and_logins_fail_closed(env):
    from app import create_app
    from config import load_config
    from services import settings
    from services.auth.passwords import hash_password
    from services.database import init_db

    app = create_app(load_config({**env, "PHOTONIX_REDIS_URL": "redis://127.0.0.1:1/0"}))
    init_db()
    settings.write_settings({settings.PASSWORD_HASH: hash_password("whatever123"), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    client = app.test_client()
    response = client.get("/health")
    assert response.status_code == 503 and response.get_json()["limiter"] == "unavailable"
    login = client.post("/api/auth/login", json={"password": "whatever123"})
    assert login.status_code == 503 and login.get_json()["code"] == "LIMITER_UNAVAILABLE"
    assert client.get("/api/auth/status").status_code == 200  # the rate limit falls back to memory
