"""Score distillation without its optional extra: the package, the task and the command import without diffusers
and transformers, and the loader says in one line which extra to install (runs in a fresh interpreter where the two
packages cannot be imported, installed or not)."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
import inverse3d.tasks.invert.sds as sds, inverse3d.tasks.invert.sds_train, inverse3d.tasks.invert.sds_targets
import inverse3d.tasks.invert.sds_tiny, inverse3d.cli.invert_sds
loaded = sorted(m for m in ("diffusers", "transformers") if m in sys.modules)
sys.modules["diffusers"] = sys.modules["transformers"] = None  # import now fails as if not installed
messages = []
tiny = inverse3d.tasks.invert.sds_tiny
for call in (lambda: sds.load_sds_model(sys.argv[1]), lambda: tiny.write_tiny_model(sys.argv[2])):
    try:
        call()
    except ValueError as err:
        messages.append(str(err))
print(json.dumps({"loaded": loaded, "messages": messages}))
"""


def test_imports_and_message_without_the_extra(tmp_path):
    folder = tmp_path / "sd"
    for name in ("unet/config.json", "unet/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    p = subprocess.run([sys.executable, "-c", CODE, str(folder), str(tmp_path / "tiny")], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["loaded"] == []  # importing inverse3d's SDS modules pulls in neither package
    assert len(out["messages"]) == 2
    for message in out["messages"]:
        assert "pip install -e .[sds]" in message and "\n" not in message
