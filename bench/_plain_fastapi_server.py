"""The issue's middle baseline: the seed's endpoint ported to FastAPI as most people would write it.

The seed's own model and preprocessing (imported from ``seed_flask_server.py``, so nothing
differs but the web stack), one request per forward pass (no batching), no limits, run under
uvicorn with uvloop and httptools and ``--workers 2``. Only one thing is tuned: one PyTorch
thread per worker, since two workers on two cores each using two threads would fight for them.
``bench/serve_load.py`` starts it beside the seed's Flask server and nnforge. This calibrates
a run: the issue saw this server at about 5x the seed's throughput with p99 16 ms on its machine.

    python -m uvicorn _plain_fastapi_server:app --app-dir bench --workers 2 --port 8000
"""

import importlib.util
import io
import os
from pathlib import Path

import torch
from fastapi import FastAPI, File, UploadFile
from PIL import Image

SEED_SERVER = Path(os.environ.get("NNFORGE_ANCHORS", Path(__file__).resolve().parents[2] / "shared" / "anchors")) / "seed_flask_server.py"
_spec = importlib.util.spec_from_file_location("seed_flask_server", SEED_SERVER)
seed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seed)  # defines the model and transform; the Flask app is not started

torch.set_num_threads(1)
app = FastAPI()


@app.post("/predict")
async def predict(file: UploadFile = File(...)):
    image = Image.open(io.BytesIO(await file.read()))
    with torch.no_grad():
        _, predicted = torch.max(seed.model(seed.transform(image).unsqueeze(0)), 1)
    return {"prediction": predicted.item()}
