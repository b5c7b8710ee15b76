"""Both apps served on loopback by run_sandbox (real sockets, uvicorn in background threads)."""

from __future__ import annotations

import socket

import httpx
import pytest

from sandbox.server import run_sandbox


def test_run_sandbox_serves_both_apis_and_shuts_down():
    with run_sandbox(products=30, customers=8, handy_rate_limit_per_minute=100) as sb:
        assert sb.handy_url.startswith("http://127.0.0.1:") and sb.handy_url.endswith("/api/v2")
        with httpx.Client(timeout=5) as client:
            users = client.get(
                f"{sb.handy_url}/user", headers={"Authorization": f"Bearer {sb.handy_token}"}
            )
            assert users.status_code == 200 and users.headers["X-RateLimit-Limit"] == "100"
            login = client.post(
                f"{sb.gestionix_url}/users/authentication",
                json={"user": sb.gestionix_user, "password": sb.gestionix_password},
            )
            token = login.json()["access_token"]
            branches = client.get(
                f"{sb.gestionix_url}/branch_offices/",
                headers={"Authorization": f"Bearer {token}", "Company": str(sb.company_id)},
            )
            assert [b["name"] for b in branches.json()] == ["Matriz", "Sucursal Norte"]
            sb.set_handy_knobs(drop_rate=1.0)
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(
                    f"{sb.handy_url}/user", headers={"Authorization": f"Bearer {sb.handy_token}"}
                )
            sb.set_handy_knobs(drop_rate=0.0)
            control = client.get(sb.handy_url.replace("/api/v2", "/_sandbox/stats")).json()
            assert control["calls"]["GET /user"] == 2
        port = int(sb.handy_url.split(":")[2].split("/")[0])
        assert "demo-password" not in repr(sb) and "demo-handy-token" not in repr(sb)
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):  # nobody listens any more
        probe.connect(("127.0.0.1", port))
