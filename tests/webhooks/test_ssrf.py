"""The SSRF guard: an endpoint never reaches the installation's own network, at subscription
(400 naming ``url``) nor at any attempt (DNS can change: a refusal is a recorded failed attempt
on the retry schedule), and the request goes to the address that was checked (no second
lookup), with the URL's hostname as ``Host``.

Name resolution is the one thing faked here (``socket.getaddrinfo`` for names under ``.test``,
which no resolver answers); numeric addresses and the receiver are real."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import pytest

from labpanel.accounts.models import StaffMember
from labpanel.webhooks import endpoints
from labpanel.webhooks.endpoints import address_refusal, post
from labpanel.webhooks.models import Delivery, DeliveryAttempt, DeliveryState, Subscription
from labpanel.webhooks.services import RETRY_DELAYS, delivery_attempt
from tests.conftest import token_client
from tests.webhooks.conftest import events_write, fan_out_until
from tests.webhooks.receiver import Receiver

SUBSCRIPTIONS = "/api/v1/webhooks/subscriptions/"

_real_getaddrinfo = socket.getaddrinfo


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: Callable[[str], list[str]]) -> list[str]:
    """Answer names ending in ``.test`` with ``answers(name)``; returns the names looked up."""
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            asked.append(host)
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, int(port or 0)),
                )
                for address in answers(host)
            ]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _ehr_delivery(integrator: StaffMember) -> Delivery:
    """A subscription to https://ehr.test/hooks (accepted: the name resolves as the test
    says), one event, and the delivery the fan-out made of it."""
    answer = token_client(integrator).post(
        SUBSCRIPTIONS, {"url": "https://ehr.test/hooks", "kinds": ["panel.released"]}, format="json"
    )
    assert answer.status_code == 201
    events_write(integrator.lab_id)
    fan_out_until(1)
    return Delivery.objects.get()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud's metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address judged, not bound
        ("::", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped: judged as the IPv4 address
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "not a public address"),  # shared address space (carrier NAT)
    ],
)
def test_addresses_of_the_installations_network_are_refused(address: str, why: str) -> None:
    reason = address_refusal(ipaddress.ip_address(address), allow_loopback=False)
    assert reason is not None
    assert why in reason


def test_public_addresses_and_the_allowed_loopback_pass() -> None:
    for address in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"):
        assert address_refusal(ipaddress.ip_address(address), allow_loopback=False) is None
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    # loopback allowed never lets a private address through
    assert address_refusal(ipaddress.ip_address("10.1.2.3"), allow_loopback=True) is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hooks",
        "https://192.168.0.10:8443/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/hooks",
        "https://[fd12:3456::1]/hooks",
        "https://[::ffff:192.168.0.1]/hooks",
        "https://0.0.0.0/hooks",
        "https://intranet.test/hooks",  # a name resolving to a private address
        "https://mixed.test/hooks",  # one public address and one private: refused
    ],
)
def test_subscribing_to_the_installations_network_is_refused_naming_the_field(
    integrator: StaffMember, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    _fake_dns(
        monkeypatch,
        lambda host: ["10.9.8.7"] if host == "intranet.test" else ["8.8.8.8", "10.0.0.1"],
    )
    answer = token_client(integrator).post(
        SUBSCRIPTIONS, {"url": url, "kinds": ["panel.released"]}, format="json"
    )
    assert answer.status_code == 400, answer.content
    details = answer.json()["details"]
    assert "url" in str(details)
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_loopback_is_refused_unless_allowed(integrator: StaffMember, settings: Any) -> None:
    client = token_client(integrator)
    body = {"url": "https://127.0.0.1:8443/hooks", "kinds": ["panel.released"]}
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = False
    settings.DEBUG = False
    assert client.post(SUBSCRIPTIONS, body, format="json").status_code == 400
    assert (
        client.post(
            SUBSCRIPTIONS, {**body, "url": "https://localhost/hooks"}, format="json"
        ).status_code
        == 400
    )
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = True
    assert client.post(SUBSCRIPTIONS, body, format="json").status_code == 201


@pytest.mark.django_db
def test_a_public_or_not_yet_resolvable_name_is_accepted(
    integrator: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_dns(monkeypatch, lambda host: ["93.184.215.14"] if host == "ehr.test" else [])
    client = token_client(integrator)
    for url in ("https://ehr.test/hooks", "https://not-yet.test/hooks"):
        answer = client.post(
            SUBSCRIPTIONS, {"url": url, "kinds": ["panel.released"]}, format="json"
        )
        assert answer.status_code == 201, answer.content


@pytest.mark.django_db(transaction=True)
def test_a_name_that_now_resolves_inward_is_refused_at_the_attempt_and_retried(
    integrator: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a subscription accepted while its name resolved to a public address
    dns = {"ehr.test": ["93.184.215.14"]}
    asked = _fake_dns(monkeypatch, lambda host: dns[host])
    delivery = _ehr_delivery(integrator)

    # when the name now points at the metadata service (DNS rebinding)
    dns["ehr.test"] = ["169.254.169.254"]
    attempt = delivery_attempt(delivery_id=delivery.pk)

    # then the attempt is recorded as refused, with the reason, and retried on the schedule
    assert attempt is not None
    assert not attempt.succeeded
    assert attempt.status_code is None
    assert attempt.error.startswith("EndpointRefused: ehr.test resolves to 169.254.169.254")
    assert "link-local" in attempt.error
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.failures == 1
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at - attempt.attempted_at >= RETRY_DELAYS[0]
    assert asked.count("ehr.test") == 2  # once at subscription, once at the attempt


@pytest.mark.django_db(transaction=True)
def test_loopback_no_longer_allowed_is_never_sent_to(
    integrator: StaffMember, receiver: Receiver, settings: Any
) -> None:
    answer = token_client(integrator).post(
        SUBSCRIPTIONS, {"url": receiver.url, "kinds": ["panel.released"]}, format="json"
    )
    assert answer.status_code == 201
    events_write(integrator.lab_id)
    fan_out_until(1)
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = False
    settings.DEBUG = False

    attempt = delivery_attempt(delivery_id=Delivery.objects.get().pk)

    assert attempt is not None
    assert "127.0.0.1 is loopback" in attempt.error
    assert receiver.received == []  # the real receiver never saw a request
    assert DeliveryAttempt.objects.filter(succeeded=False).count() == 1


def test_the_request_goes_to_the_checked_address_with_the_hostname_as_host(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first lookup answers the loopback (allowed here); any later one would answer an
    # address nothing listens on: the request reaches the receiver only if it is pinned
    answers = iter([["127.0.0.1"]])
    asked = _fake_dns(monkeypatch, lambda host: next(answers, ["192.0.2.1"]))
    port = receiver.url.split(":")[2].split("/")[0]

    outcome = post(
        f"http://hooks.test:{port}/hook?source=labpanel",
        body=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert outcome.status_code == 200, outcome.error
    assert asked == ["hooks.test"]  # one lookup: the check's
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.test:{port}"
    assert request.body == b"{}"


def test_a_redirect_is_a_failed_attempt_never_followed(receiver: Receiver) -> None:
    receiver.always = 307
    outcome = post(receiver.url, body=b"{}", headers={}, timeout=5)
    assert outcome.status_code == 307
    assert not outcome.succeeded
    assert len(receiver.received) == 1


def test_an_unreachable_endpoint_is_an_error_not_a_crash() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = post(f"http://127.0.0.1:{port}/hook", body=b"{}", headers={}, timeout=2)
    assert outcome.status_code is None
    assert outcome.error.startswith("ConnectionRefusedError")


def _tls_receiver(tmp_path: Any, names: list[str]) -> Receiver:
    """A receiver serving https with a self-signed certificate for ``hooks.test``; records the
    server name (SNI) each handshake asked for in ``names``."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(str(name))
    server = Receiver(tls=context)
    server.start()
    return server


def test_https_is_pinned_with_the_hostname_as_server_name_and_certificate_name(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    names: list[str] = []
    receiver = _tls_receiver(tmp_path, names)
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # trust it, only it
        asked = _fake_dns(monkeypatch, lambda host: ["127.0.0.1"])
        port = receiver.url.split(":")[2].split("/")[0]

        outcome = post(f"https://hooks.test:{port}/hook", body=b"{}", headers={}, timeout=5)
        assert outcome.status_code == 200, outcome.error
        assert names == ["hooks.test"]
        assert asked == ["hooks.test"]
        assert receiver.received[0].headers["host"] == f"hooks.test:{port}"

        # a certificate for another name fails: checked against the hostname, not the address
        other = post(f"https://other.test:{port}/hook", body=b"{}", headers={}, timeout=5)
        assert other.status_code is None
        assert other.error.startswith("SSLCertVerificationError")
        assert len(receiver.received) == 1
    finally:
        receiver.stop()


@pytest.mark.django_db(transaction=True)
def test_a_resolver_that_does_not_answer_fails_the_attempt_in_time_and_it_is_retried(
    integrator: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``socket.getaddrinfo`` has no deadline: the attempt gives the lookup
    ``RESOLVE_TIMEOUT_SECONDS``, then records the failure and keeps its schedule."""
    dns = {"ehr.test": ["93.184.215.14"]}
    _fake_dns(monkeypatch, lambda host: dns[host])
    delivery = _ehr_delivery(integrator)

    # when the resolver stops answering
    release = threading.Event()
    hung = socket.getaddrinfo

    def silent(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "ehr.test":
            release.wait(30)
        return hung(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", silent)
    monkeypatch.setattr(endpoints, "RESOLVE_TIMEOUT_SECONDS", 0.3)
    try:
        attempt = delivery_attempt(delivery_id=delivery.pk)
    finally:
        release.set()  # the abandoned lookup ends (without the deadline it held the attempt)

    # then the attempt failed after the deadline, saying why, and waits for its next try
    assert attempt is not None
    assert not attempt.succeeded
    assert attempt.error == "EndpointRefused: ehr.test does not resolve (TimeoutError)"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.failures == 1
    assert delivery.next_attempt_at is not None
