def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["storage"] == "ok"
    assert body["version"]


def test_health_names_the_database_when_it_is_unusable(env, tmp_path):
    from app import create_app
    from config import load_config

    broken = tmp_path / "not-a-db"
    broken.mkdir()  # a folder where the database file should be: sqlite cannot open it
    app = create_app(load_config({**env, "PHOTONIX_DATABASE_URL": f"sqlite:///{broken}"}))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() | {"version": None} == {
        "status": "unhealthy", "database": "unavailable", "storage": "ok", "version": None}


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
