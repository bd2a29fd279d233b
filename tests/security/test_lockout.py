"""The login lockout attacked through the API: schedule boundaries with a controlled clock, locks that skip
the secret check, one counter for password and admin secret, client-address spoofing with 0 and 1 trusted
hops, IPv4-mapped IPv6, a lost limiter storage, parallel bursts held inside the secret check, and (on real
gunicorn) 40 parallel failures over 4 workers and restarts during a lock.

The clock is the one seam faked here: blueprints._auth builds each request's Lockout, and the tests make it
build one with their clock (services.auth.lockout takes the clock as an argument). Storage stays real.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app import create_app
from blueprints import _auth
from config import load_config
from services import settings
from services.auth import access, passwords
from services.auth.lockout import Lockout
from services.database import init_db
from tests.conftest import ADMIN_SECRET
from tests.support.servers import Gunicorn, free_port, redis_server

PASSWORD = "lockout test password"
WRONG = "not the password at all"
START_S = 1_900_000_000.0  # whole seconds, so Retry-After arithmetic is exact


class Clock:
    def __init__(self):
        self.now = START_S

    def __call__(self) -> float:
        return self.now


class Spy:
    """Counts calls to a function and passes them through."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_auth, "Lockout", lambda storage, namespace="": Lockout(storage, clock, namespace))
    return clock


@pytest.fixture
def checks(monkeypatch) -> dict[str, Spy]:
    """Spies on the two secret checks the lockout guards: bcrypt's password check and the admin secret's."""
    spies = {"password": Spy(access.verify_password), "admin secret": Spy(access._same_secret)}
    monkeypatch.setattr(access, "verify_password", spies["password"])
    monkeypatch.setattr(access, "_same_secret", spies["admin secret"])
    return spies


def private_gallery() -> None:
    settings.write_settings({settings.PASSWORD_HASH: passwords.hash_password(PASSWORD),
                             settings.PASSWORD_ENABLED: "1"}, bump_epoch=True)


@pytest.fixture
def make_client(env, monkeypatch, clock):
    """A test client on a private gallery (cheap bcrypt cost), with extra PHOTONIX_* variables if given."""
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)

    def make(**variables):
        app = create_app(load_config({**env, **{f"PHOTONIX_{k}": v for k, v in variables.items()}}))
        init_db()
        private_gallery()
        return app.test_client()

    return make


@pytest.fixture
def client(make_client):
    return make_client()


def login(client, password=WRONG, ip="127.0.0.1", headers=None):
    return client.post("/api/auth/login", json={"password": password}, headers=headers or {},
                       environ_base={"REMOTE_ADDR": ip})


def admin_exchange(client, secret=WRONG, ip="127.0.0.1"):
    return client.post("/api/auth/admin", json={"adminSecret": secret}, environ_base={"REMOTE_ADDR": ip})


def admin_header(client, secret=WRONG, ip="127.0.0.1"):
    return client.put("/api/settings", json={"siteTitle": "Locked out?"}, headers={"X-Admin-Secret": secret},
                      environ_base={"REMOTE_ADDR": ip})


def assert_free(response, remaining: int, code: str = "INVALID_CREDENTIALS") -> None:
    body = response.get_json()
    assert (response.status_code, body["code"], body["remainingAttempts"], body["nextLockSeconds"]) == (
        401, code, remaining, 60)
    assert "Retry-After" not in response.headers


def assert_locked(response, seconds: int) -> None:
    body = response.get_json()
    assert (response.status_code, body["code"], body["retryAfterSeconds"]) == (429, "LOGIN_LOCKED", seconds)
    assert response.headers["Retry-After"] == str(seconds)


def lock(client, ip="127.0.0.1", **kwargs) -> None:
    for remaining in (4, 3, 2, 1):
        assert_free(login(client, ip=ip, **kwargs), remaining)
    assert_locked(login(client, ip=ip, **kwargs), 60)


# --- schedule and what a lock skips ----------------------------------------------------------------------------


def test_schedule_boundaries_and_attempts_during_a_lock_are_not_counted(client, clock, checks, caplog):
    with caplog.at_level("WARNING", logger="photonix.auth"):
        lock(client)
        for _ in range(3):  # wrong attempts during the lock are refused without counting or checking
            assert_locked(login(client), 60)
        assert checks["password"].calls == 5
        clock.now += 59
        assert_locked(login(client, PASSWORD), 1)  # the right password too, and it is not even checked
        assert checks["password"].calls == 5
        clock.now += 1  # the 60 s lock is over, to the second
        for seconds in (300, 900, 3600, 3600):  # failures 6, 7, 8, 9
            assert_locked(login(client), seconds)  # the failure that starts a lock is itself a 429
            clock.now += seconds - 1
            assert_locked(login(client, PASSWORD), 1)
            clock.now += 1
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auth failure")]
    assert [int(re.search(r"failure (\d+)", m).group(1)) for m in failures] == list(range(1, 10))
    assert checks["password"].calls == 9


def test_the_right_password_after_a_lock_expires_clears_the_count(client, clock):
    lock(client)
    clock.now += 60
    assert login(client, PASSWORD).status_code == 200
    for remaining in (4, 3, 2, 1):  # a new series: free again, and the next lock is 60 s, not 300 s
        assert_free(login(client), remaining)
    assert_locked(login(client), 60)


def test_a_success_before_the_lock_clears_the_count(client):
    for remaining in (4, 3, 2, 1):
        assert_free(login(client), remaining)
    assert login(client, PASSWORD).status_code == 200
    lock(client)


def test_a_locked_admin_secret_is_not_checked_either(client, checks):
    lock(client)
    assert_locked(admin_exchange(client, ADMIN_SECRET), 60)
    assert_locked(admin_header(client, ADMIN_SECRET), 60)
    assert checks["admin secret"].calls == 0
    assert settings.auth_state().site_title != "Locked out?"


ROUTES = {"login": login, "admin exchange": admin_exchange, "X-Admin-Secret": admin_header}


@pytest.mark.parametrize("sequence", [
    ("login", "login", "login", "admin exchange", "admin exchange"),
    ("admin exchange", "admin exchange", "admin exchange", "login", "login"),
    ("X-Admin-Secret", "login", "admin exchange", "X-Admin-Secret", "admin exchange"),
], ids=["3 logins + 2 exchanges", "3 exchanges + 2 logins", "mixed with the header"])
def test_password_and_admin_secret_share_one_counter(client, sequence):
    for route, remaining in zip(sequence[:4], (4, 3, 2, 1), strict=True):
        code = "INVALID_CREDENTIALS" if route == "login" else "ADMIN_SECRET_INVALID"
        assert_free(ROUTES[route](client), remaining, code)
    assert_locked(ROUTES[sequence[4]](client), 60)
    assert_locked(login(client, PASSWORD), 60)  # locked on every endpoint, with the right credential
    assert_locked(admin_exchange(client, ADMIN_SECRET), 60)
    assert_locked(admin_header(client, ADMIN_SECRET), 60)


# --- parallel bursts: an attempt takes its slot before the secret is checked ---------------------------------

BURST = 30
RIGHT = {"login": PASSWORD, "admin exchange": ADMIN_SECRET, "X-Admin-Secret": ADMIN_SECRET}
CHECKED = {"login": "password", "admin exchange": "admin secret", "X-Admin-Secret": "admin secret"}


class HeldChecks:
    """Holds every secret check back until the test releases them, counting calls and answers as they come."""

    def __init__(self, checks: dict[str, Spy], monkeypatch):
        self.release, self.changed = threading.Event(), threading.Condition()
        self.calls = self.answered = 0
        for name, attribute in (("password", "verify_password"), ("admin secret", "_same_secret")):
            monkeypatch.setattr(access, attribute, self._held(checks[name]))

    def _held(self, check):
        def held(*args, **kwargs):
            with self.changed:
                self.calls += 1
                self.changed.notify_all()
            assert self.release.wait(30), "the test never released the checks"
            return check(*args, **kwargs)
        return held

    def answer(self, request):
        try:
            return request()
        finally:
            with self.changed:
                self.answered += 1
                self.changed.notify_all()

    def wait_until_settled(self, count: int) -> None:
        """Until each of `count` requests is either held in a check or answered (30 s is only a failsafe)."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.calls + self.answered >= count, 30), (self.calls,
                                                                                          self.answered)


@pytest.mark.parametrize("route", ROUTES)
def test_a_parallel_burst_reaches_the_secret_check_at_most_five_times(client, checks, monkeypatch, route):
    held = HeldChecks(checks, monkeypatch)
    attempt = ROUTES[route]
    with ThreadPoolExecutor(BURST + 1) as pool:
        wrong = [pool.submit(held.answer, lambda: attempt(client)) for _ in range(BURST)]
        held.wait_until_settled(BURST)  # every wrong attempt is in a check or answered, none released
        right = pool.submit(held.answer, lambda: attempt(client, RIGHT[route]))
        held.wait_until_settled(BURST + 1)
        held.release.set()
        answers = [future.result(30) for future in wrong] + [right.result(30)]
    code = "INVALID_CREDENTIALS" if route == "login" else "ADMIN_SECRET_INVALID"
    codes = sorted((a.status_code, a.get_json()["code"]) for a in answers[:BURST])
    assert codes == [(401, code)] * 4 + [(429, "LOGIN_LOCKED")] * (BURST - 4)
    assert answers[BURST].status_code == 429, "the right secret sent during the burst got past the lockout"
    assert_locked(answers[BURST], 60)
    assert checks[CHECKED[route]].calls == 5  # 4 free attempts and the 5th, which locks: no more
    assert_locked(attempt(client, RIGHT[route]), 60)  # and after it
    assert_locked(login(client, PASSWORD), 60)
    assert checks["password"].calls + checks["admin secret"].calls == 5
    assert settings.auth_state().site_title != "Locked out?"


# --- whose counter: client addresses ---------------------------------------------------------------------------

SPOOFING = ["X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP"]


def spoofed(n: int, address: str | None = None) -> dict[str, str]:
    address = address or f"10.{n}.{n}.{n}"
    return {name: f"for={address}" if name == "Forwarded" else address for name in SPOOFING}


def test_with_no_trusted_proxy_forwarding_headers_change_nothing(client, caplog):
    with caplog.at_level("WARNING", logger="photonix.auth"):
        for n, remaining in enumerate((4, 3, 2, 1)):
            assert_free(login(client, headers=spoofed(n)), remaining)
        assert_locked(login(client, headers=spoofed(9)), 60)
        assert_locked(login(client, PASSWORD, headers=spoofed(10, "192.0.2.10")), 60)  # posing as someone else
    assert all(" from 127.0.0.1 " in r.getMessage() for r in caplog.records if "auth failure" in r.getMessage())


def test_with_no_trusted_proxy_nobody_can_lock_out_another_address(client):
    lock(client, headers=spoofed(0, "192.0.2.10"))  # the attacker claims to be the victim
    assert login(client, PASSWORD, ip="192.0.2.10").status_code == 200


@pytest.fixture
def proxied(make_client):
    return make_client(TRUSTED_PROXIES="1")


def via_proxy(client, forwarded_for: str, password=WRONG, proxy="10.0.0.2", **headers):
    return login(client, password, ip=proxy, headers={"X-Forwarded-For": forwarded_for, **headers})


def test_one_trusted_hop_keys_on_the_right_most_forwarded_address(proxied):
    lefts = ["198.51.100.1", "203.0.113.6, 198.51.100.2", "unknown, ::1", " , , 10.0.0.2", "x" * 500]
    for n, (left, remaining) in enumerate(zip(lefts[:4], (4, 3, 2, 1), strict=True)):
        assert_free(via_proxy(proxied, f"{left}, 203.0.113.5", proxy=f"10.0.0.{n + 2}"), remaining)
    assert_locked(via_proxy(proxied, f"{lefts[4]}, 203.0.113.5"), 60)
    # What the client adds on the left, or in headers the proxy does not set, cannot move it off its key:
    assert_locked(via_proxy(proxied, "203.0.113.6, 203.0.113.5", PASSWORD, **{"X-Real-IP": "203.0.113.6",
                                                                              "Forwarded": "for=203.0.113.6"}), 60)
    assert_locked(via_proxy(proxied, "203.0.113.5", PASSWORD, proxy="10.0.0.9"), 60)  # nor can another proxy
    # ... and naming another client on the left did not lock that client.
    assert via_proxy(proxied, "203.0.113.6", PASSWORD).status_code == 200


@pytest.mark.parametrize("trusted, forms", [
    (0, ["127.0.0.1", "::ffff:127.0.0.1", "::FFFF:7f00:1", "0:0:0:0:0:ffff:127.0.0.1", "::ffff:127.0.0.1"]),
    (1, ["203.0.113.5", "::ffff:203.0.113.5", "::ffff:cb00:7105", "0:0:0:0:0:FFFF:203.0.113.5", "203.0.113.5"]),
], ids=["peer address", "forwarded address"])
def test_ipv4_mapped_ipv6_counts_as_the_same_ipv4(make_client, trusted, forms, caplog):
    client = make_client(TRUSTED_PROXIES=str(trusted))

    def attempt(form, password=WRONG):
        if trusted:
            return via_proxy(client, form, password)
        return login(client, password, ip=form)

    with caplog.at_level("WARNING", logger="photonix.auth"):
        for form, remaining in zip(forms[:4], (4, 3, 2, 1), strict=True):
            assert_free(attempt(form), remaining)
        assert_locked(attempt(forms[4]), 60)
        assert_locked(attempt(forms[1], PASSWORD), 60)
    ipv4 = "203.0.113.5" if trusted else "127.0.0.1"
    assert {re.search(r" from (\S+) ", r.getMessage()).group(1) for r in caplog.records
            if "auth failure" in r.getMessage()} == {ipv4}


def test_a_success_from_one_address_does_not_unlock_another(client):
    lock(client, ip="192.0.2.1")
    for remaining in (4, 3, 2, 1):
        assert_free(login(client, ip="192.0.2.2"), remaining)
    assert login(client, PASSWORD, ip="192.0.2.2").status_code == 200
    assert admin_exchange(client, ADMIN_SECRET, ip="192.0.2.2").status_code == 200
    assert_locked(login(client, PASSWORD, ip="192.0.2.1"), 60)
    assert_free(login(client, ip="192.0.2.2"), 4)


# --- the storage ---------------------------------------------------------------------------------------------


def test_unreachable_limiter_storage_fails_closed(make_client, checks):
    client = make_client(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    for response in (login(client, PASSWORD), login(client), admin_exchange(client, ADMIN_SECRET),
                     admin_header(client, ADMIN_SECRET)):
        body = response.get_json()
        assert (response.status_code, body["code"]) == (503, "LIMITER_UNAVAILABLE"), body
    assert checks["password"].calls == checks["admin secret"].calls == 0
    assert settings.auth_state().site_title != "Locked out?"
    assert client.get("/api/auth/status").status_code == 200  # the rest of the site stays up


# --- real servers ----------------------------------------------------------------------------------------------


def server_login(url: str, password: str = WRONG) -> requests.Response:
    # Connection: close: a fresh connection per attempt, so any worker may take it.
    return requests.post(url + "/api/auth/login", json={"password": password}, timeout=30,
                         headers={"Connection": "close"})


@pytest.fixture
def served_gallery(db):
    private_gallery()  # the real bcrypt cost: each check takes long enough for attempts to overlap


@pytest.mark.integration
@pytest.mark.slow
def test_forty_parallel_failures_over_four_workers_are_admitted_exactly(env, tmp_path, served_gallery):
    """Each attempt takes its place in Redis before bcrypt runs, so however the 40 interleave over the workers,
    exactly five are checked: four free ones answer 401, the 5th locks, and the other 35 are refused unchecked
    (while the 5th is being checked, or once its lock exists). Each failure logs one line with its number."""
    with redis_server() as redis_url:
        server = Gunicorn({**env, "PHOTONIX_WORKERS": "4", "PHOTONIX_REDIS_URL": redis_url}, tmp_path / "g.log")
        with server:
            barrier = threading.Barrier(40)

            def attempt(connection):
                barrier.wait(30)
                return connection.post(server.url + "/api/auth/login", json={"password": WRONG}, timeout=30)

            # 40 connections held by at least two workers: the race really crosses workers.
            with server.connections(40) as connections, ThreadPoolExecutor(40) as pool:
                answers = list(pool.map(attempt, connections))
            answered = {server.worker_of(answer) for answer in answers}
            after = server_login(server.url, PASSWORD)
    codes = [(a.status_code, a.json()["code"]) for a in answers]
    assert sorted(codes) == [(401, "INVALID_CREDENTIALS")] * 4 + [(429, "LOGIN_LOCKED")] * 36
    assert sorted(a.json()["remainingAttempts"] for a in answers if a.status_code == 401) == [1, 2, 3, 4]
    ordinals = sorted(int(n) for n in re.findall(r"wrong gallery password from 127\.0\.0\.1 \(failure (\d+)",
                                                 server.log()))
    assert ordinals == [1, 2, 3, 4, 5]  # five bcrypt checks, no more
    assert len(answered) >= 2, "the attempts should have been spread over several workers"
    assert (after.status_code, after.json()["code"]) == (429, "LOGIN_LOCKED")
    assert 1 <= int(after.headers["Retry-After"]) <= 60


@pytest.mark.integration
@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_a_restart_during_a_lock(env, tmp_path, served_gallery, storage):
    """docs/auth.md: the counts live in process memory with one worker (a restart clears them), in Redis otherwise
    (where they outlive a restart of the app)."""
    with redis_server() as redis_url:
        variables = {**env, "PHOTONIX_REDIS_URL": redis_url} if storage == "redis" else env
        with Gunicorn(variables, tmp_path / "before.log") as server:
            answers = [server_login(server.url) for _ in range(5)]
            assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
        with Gunicorn(variables, tmp_path / "after.log") as server:
            after = server_login(server.url, PASSWORD)
    if storage == "memory":
        assert after.status_code == 200  # the lock was in the old process's memory
    else:
        assert (after.status_code, after.json()["code"]) == (429, "LOGIN_LOCKED")
        assert 1 <= int(after.headers["Retry-After"]) <= 60
