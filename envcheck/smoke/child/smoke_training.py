"""The training steps: a small MLP on interleaved spirals (fixed seed), in fp32 and under autocast, its
state through a save / load round trip, and the same forward pass on the CPU and a GPU."""

from __future__ import annotations

import io
import time
from typing import Any

from smoke_protocol import Emitter

SEED = 20240601
# The task: 3 interleaved spirals, 400 points each, a fixed 25% held out.
CLASSES, PER_CLASS, HIDDEN, BATCH, EPOCHS = 3, 400, 64, 64, 25


def spirals(torch: Any) -> tuple[Any, Any, Any, Any]:
    """Interleaved spirals (the CS231n toy problem), fixed seed; 75% train, 25% held out."""
    gen = torch.Generator().manual_seed(SEED)
    xs, ys = [], []
    for cls in range(CLASSES):
        radius = torch.linspace(0.05, 1.0, PER_CLASS)
        theta = torch.linspace(cls * 4.0, cls * 4.0 + 4.0, PER_CLASS) + 0.15 * torch.randn(PER_CLASS, generator=gen)
        xs.append(torch.stack([radius * torch.sin(theta), radius * torch.cos(theta)], dim=1))
        ys.append(torch.full((PER_CLASS,), cls, dtype=torch.long))
    x, y = torch.cat(xs), torch.cat(ys)
    order = torch.randperm(len(y), generator=gen)
    cut = len(y) * 3 // 4
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def make_model(torch: Any) -> Any:
    torch.manual_seed(SEED)
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(2, HIDDEN), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(HIDDEN, CLASSES),
    )


def train(torch: Any, device: Any, emit: Emitter, item: str, *, amp_dtype: Any = None) -> tuple[Any, dict[str, Any]]:
    """Mini-batch AdamW with weight decay on cross-entropy; the loss is measured on the whole train set."""
    x_train, y_train, x_test, y_test = (t.to(device) for t in spirals(torch))
    model = make_model(torch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = None
    if amp_dtype is torch.float16:  # torch.amp.GradScaler("cuda") from 2.3; torch.cuda.amp before that
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    gen = torch.Generator().manual_seed(SEED + 1)
    batches = (len(y_train) + BATCH - 1) // BATCH
    total = EPOCHS * batches if amp_dtype is None else 10 * batches

    def full_loss() -> float:
        model.eval()
        with torch.no_grad():
            value = float(loss_fn(model(x_train).float(), y_train))
        model.train()
        return value

    loss_start = full_loss()
    done, logits_dtype, start = 0, None, time.perf_counter()
    while done < total:
        order = torch.randperm(len(y_train), generator=gen).to(device)
        for first in range(0, len(y_train), BATCH):
            idx = order[first:first + BATCH]
            opt.zero_grad(set_to_none=True)
            if amp_dtype is not None:
                with torch.autocast(device_type=device.type, dtype=amp_dtype):
                    logits = model(x_train[idx])
                    loss = loss_fn(logits, y_train[idx])
                logits_dtype = str(logits.dtype).replace("torch.", "")
            else:
                loss = loss_fn(model(x_train[idx]), y_train[idx])
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            done += 1
            if done % 50 == 0 or done == total:
                emit("progress", step="amp" if amp_dtype is not None else "train", item=item,
                     done=done, total=total, loss=round(loss.item(), 5))
            if done == total:
                break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed_s = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(dim=1) == y_test).float().mean())
    facts = {"loss_start": round(loss_start, 5), "loss_end": round(full_loss(), 5), "accuracy": round(accuracy, 4),
             "steps": done, "time_per_step_ms": round(1000 * elapsed_s / max(done, 1), 4),
             "train_s": round(elapsed_s, 4),
             "batch": BATCH, "train_points": len(y_train), "held_out_points": len(y_test),
             "optimizer": "AdamW(lr=0.01, weight_decay=1e-4)",
             "model": f"2-{HIDDEN}-{HIDDEN}-{CLASSES} ReLU MLP, dropout 0.1"}
    if amp_dtype is not None:
        facts.update(amp_dtype=str(amp_dtype).replace("torch.", ""), logits_dtype=logits_dtype,
                     grad_scaler=bool(scaler is not None and scaler.is_enabled()))
    return model, facts


def save_load(torch: Any, model: Any, device: Any) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    size = buffer.tell()
    buffer.seek(0)
    state = torch.load(buffer, map_location=device, weights_only=True)
    twin = make_model(torch).to(device)
    twin.load_state_dict(state)
    model.eval()
    twin.eval()
    x = spirals(torch)[2].to(device)
    with torch.no_grad():
        same = bool(torch.equal(model(x), twin(x)))
    return {"bytes": size, "tensors": len(state), "identical_output": same}


def forward_consistency(torch: Any, device: Any) -> dict[str, Any]:
    model = make_model(torch).eval()
    x = spirals(torch)[2]
    with torch.no_grad():
        ref = model(x)
        got = model.to(device)(x.to(device)).cpu()
    return {"max_abs_diff": float((got - ref).abs().max()), "outputs": int(ref.numel())}
