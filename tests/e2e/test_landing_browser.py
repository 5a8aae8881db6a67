"""The landing page as a person uses it: headless Chromium (Debian's `chromium`) opens it,
types the token into a receiver's form, presses "Send test incident" and reads the page
that comes back. Driven over the DevTools protocol with aiohttp's websocket client: mouse
clicks and typed text, as a person would, no script of the page's own."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from adapter.testalert import KEY_MARK
from tests.builders import ROUTING_KEY, TOKEN, make_payload, pd_config
from tests.harness.adapter import AdapterProcess
from tests.harness.nginx import Nginx
from tests.harness.server import Server
from tests.harness.system import require
from tests.standins.events import EventsAPI


class DevTools:
    """One page target of a Chromium, over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            data = json.loads(message.data)
            if "id" in data:
                self.answers.pop(data["id"]).set_result(data)
            else:
                await self.events.put(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.answers[ident] = asyncio.get_running_loop().create_future()
        await self.socket.send_json({"id": ident, "method": method, "params": params})
        answer = await asyncio.wait_for(self.answers[ident], 30)
        assert "error" not in answer, answer
        result: dict[str, Any] = answer["result"]
        return result

    async def until(self, event: str) -> None:
        while (await asyncio.wait_for(self.events.get(), 30))["method"] != event:
            pass

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def click(self, selector: str) -> None:
        """A left click in the middle of the element, scrolled into view first."""
        where = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = where
        for kind in ("mousePressed", "mouseReleased"):
            await self.call(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[str]:
    """A headless Chromium; yields the websocket URL of its one page."""
    program = require("chromium", "chromium")
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            program,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1200,1100",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helper processes share its group: stopped together
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        yield next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


async def send_test_incident_from_the_page(
    devtools_url: str, page_url: str
) -> tuple[str, str, bytes]:
    async with aiohttp.ClientSession() as session, session.ws_connect(devtools_url) as socket:
        page = DevTools(socket)
        await page.call("Page.enable")
        await page.call("Page.navigate", url=page_url)
        await page.until("Page.loadEventFired")
        assert "Send test incident" in await page.evaluate("document.body.innerText")
        await page.click("#receiver-pd input[name=token]")
        await page.call("Input.insertText", text=TOKEN)
        await page.click("#receiver-pd button[type=submit]")
        await page.until("Page.loadEventFired")  # the answer's page
        text = await page.evaluate("document.body.innerText")
        markup = await page.evaluate("document.documentElement.outerHTML")
        picture = await page.call("Page.captureScreenshot", format="png")
        page.reader.cancel()
        return text, markup, base64.b64decode(picture["data"])


def test_send_a_test_incident_from_the_landing_page(tmp_path: Path, chromium: str) -> None:
    api = EventsAPI()
    with Server(api.app()) as upstream:
        doc = pd_config(url=upstream.url + "/v2/enqueue")
        with AdapterProcess(tmp_path, doc) as adapter:
            real = make_payload()  # a real alert first, so the list holds both kinds
            headers = {"Authorization": f"Bearer {TOKEN}"}
            assert httpx.post(adapter.url + "/alerts/pd", json=real, headers=headers).is_success
            text, markup, png = asyncio.run(
                send_test_incident_from_the_page(chromium, adapter.url + "/")
            )
            shot = tmp_path / "test-incident.png"
            shot.write_bytes(png)
    (key,) = [k for k in api.incidents if k.startswith(KEY_MARK)]
    assert api.incidents[key].status == "resolved"  # opened, then resolved, upstream
    assert "The incident API accepted the trigger and the resolve." in text
    assert f"trigger\t{key}\taccepted (upstream 202)" in text
    assert f"resolve\t{key}\taccepted (upstream 202)" in text
    # the deliveries list, newest first: the test's resolve and trigger, then the real alert
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line]
    listed = [(r[1], r[3], r[4], r[5]) for r in rows if len(r) == 7 and r[0] != "when (UTC)"]
    assert listed[:3] == [
        ("IncidentAdapterTest", "resolve", "delivered", "202"),
        ("IncidentAdapterTest", "trigger", "delivered", "202"),
        ("HighErrorRate", "trigger", "delivered", "202"),
    ]
    assert TOKEN not in markup and ROUTING_KEY not in markup
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


async def follow_the_page_behind_a_proxy(devtools_url: str, page_url: str) -> dict[str, Any]:
    """Open the page through the proxy, follow its metrics link, come back, send a test
    incident from the form, then follow "Back to all receivers": where each click landed."""
    seen: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session, session.ws_connect(devtools_url) as socket:
        page = DevTools(socket)
        await page.call("Page.enable")
        await page.call("Page.navigate", url=page_url)
        await page.until("Page.loadEventFired")
        seen["links"] = await page.evaluate(
            "[...document.querySelectorAll('a[href], form[action]')]"
            ".map(e => e.getAttribute('href') || e.getAttribute('action'))"
        )
        await page.click("a[href$='/metrics']")
        await page.until("Page.loadEventFired")
        seen["metrics_url"] = await page.evaluate("location.href")
        seen["metrics"] = await page.evaluate("document.body.innerText")
        await page.call("Page.navigate", url=page_url)
        await page.until("Page.loadEventFired")
        await page.click("#receiver-pd input[name=token]")
        await page.call("Input.insertText", text=TOKEN)
        await page.click("#receiver-pd button[type=submit]")
        await page.until("Page.loadEventFired")
        seen["result_url"] = await page.evaluate("location.href")
        seen["result"] = await page.evaluate("document.body.innerText")
        await page.click("a[href$='/']")  # "Back to all receivers"
        await page.until("Page.loadEventFired")
        seen["back_url"] = await page.evaluate("location.href")
        seen["back"] = await page.evaluate("document.body.innerText")
        page.reader.cancel()
    return seen


def test_the_landing_page_works_behind_nginx_under_a_path(tmp_path: Path, chromium: str) -> None:
    """`--web.external-url=http://proxy/incident-adapter/`, nginx passing that path on: every
    link and the form stay under the path, so each click goes through the proxy."""
    api = EventsAPI()
    with Server(api.app()) as upstream:
        adapter = AdapterProcess(tmp_path, pd_config(url=upstream.url + "/v2/enqueue"))
        proxy = Nginx(tmp_path, "/incident-adapter/", f"http://127.0.0.1:{adapter.port}")
        external = proxy.url + "/incident-adapter/"
        adapter.flags = (f"--web.external-url={external}",)
        with adapter, proxy:
            seen = asyncio.run(follow_the_page_behind_a_proxy(chromium, external))
            proxied = (proxy.root / "access.log").read_text()
    away = [link for link in seen["links"] if not link.startswith("#")]  # not in-page anchors
    assert len(away) == 5 and all(link.startswith(external) for link in away)
    assert seen["metrics_url"] == external + "metrics"
    assert "incident_adapter_build_info" in seen["metrics"]
    assert seen["result_url"] == external + "-/test/pd"
    assert "The incident API accepted the trigger and the resolve." in seen["result"]
    assert seen["back_url"] == external
    assert "Send test incident" in seen["back"]
    (key,) = [k for k in api.incidents if k.startswith(KEY_MARK)]
    assert api.incidents[key].status == "resolved"
    assert "POST /incident-adapter/-/test/pd" in proxied  # the form went through nginx
