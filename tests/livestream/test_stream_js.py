"""The browser client (static/livestream/stream.js) under Node against a real server: resume after a cut, no duplicate."""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from livestream.models import StreamKind
from livestream.services import stream_ensure
from tests.livestream.conftest import publish_via

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("node"), reason="needs Node.js"),
]

CLIENT = Path(__file__).resolve().parents[2] / "static" / "livestream" / "stream.js"

SCRIPT = """
import { StreamClient } from %(module)s;
const [port, total] = [%(port)d, %(total)d];
const seen = [];
let cut = false;
const client = new StreamClient("demo", {
  url: (key, after) => `ws://127.0.0.1:${port}/ws/streams/${key}/?after=${after}`,
  socket: (url) => new WebSocket(url, { headers: { origin: `http://127.0.0.1:${port}` } }),
  minDelay: 50,
  maxDelay: 200,
  onEvents(events) {
    for (const event of events) seen.push(event.seq);
    // Cut once mid-stream, from the client side, as a dropped network would.
    if (!cut && client.lastSeq >= 5) { cut = true; client.socket.close(4001); }
    if (client.lastSeq >= total) {
      console.log(JSON.stringify({ seen }));
      client.close();
      process.exit(0);
    }
  },
  onState(state, detail) { if (state === "live") console.error("live", JSON.stringify(detail)); },
});
client.start();
setTimeout(() => { console.log(JSON.stringify({ seen, timeout: true })); process.exit(1); }, 20000);
"""


def test_the_client_resumes_after_a_cut_and_hands_over_each_event_once(servers, tmp_path):
    a, b = servers
    stream_ensure(kind=StreamKind.DEMO)
    script = tmp_path / "client.mjs"
    script.write_text(SCRIPT % {"module": json.dumps(CLIENT.as_uri()), "port": a, "total": 20})
    node = subprocess.Popen(["node", "--experimental-websocket", str(script)], stdout=subprocess.PIPE, text=True)
    time.sleep(1)  # connected

    for n in range(1, 21):
        publish_via(b if n % 2 else a, n)
        time.sleep(0.05)
    out, _ = node.communicate(timeout=30)

    assert node.returncode == 0, out
    assert json.loads(out.strip().splitlines()[-1])["seen"] == list(range(1, 21))
