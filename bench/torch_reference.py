#!/usr/bin/env python3
"""The PyTorch reference of `npm run bench`: the same model, trained and sampled the same way, timed on this CPU.

Model (as src/model/layers.ts builds it): Embedding(V, 32) -> LSTM(128) -> Dropout(0.2) -> LSTM(128)
-> Dropout(0.2) -> Linear(V), softmax over a character vocabulary (here: the corpus's own characters).

Training: sequence to sequence, as src/model/train.ts does it -- a batch of random SEQ+1-character slices of the
corpus, every position predicts the next character (cross-entropy averaged over all targets), Adam at 2e-3 with
the gradients clipped to a global norm of 5, dropout on. WARMUP untimed steps, then STEPS timed ones:
target characters per second = STEPS * BATCH * SEQ / seconds.

Generation: 50 characters one at a time with (h, c) of both layers carried from step to step (stateful), sampled
at temperature 0.7, dropout off, no gradients; 1 character primed. Median of RUNS runs, in milliseconds.

Needs torch (Debian: apt-get install python3-torch; run with /usr/bin/python3). Prints one JSON object as its
last line of stdout; bench/torch.ts runs it and parses that line.
"""
import argparse
import json
import time

import torch


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True, help="UTF-8 text file to train on")
    p.add_argument("--batch", type=int, default=128, help="slices per training step")
    p.add_argument("--seq", type=int, default=32, help="characters per slice (targets per slice)")
    p.add_argument("--steps", type=int, default=30, help="timed training steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    p.add_argument("--runs", type=int, default=25, help="timed 50-character generations")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    return p.parse_args()


class Baby(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, 32)
        self.lstm1 = torch.nn.LSTM(32, 128, batch_first=True)
        self.lstm2 = torch.nn.LSTM(128, 128, batch_first=True)
        self.dropout = torch.nn.Dropout(0.2)
        self.dense = torch.nn.Linear(128, vocab)

    def forward(self, x, state1=None, state2=None):
        h, state1 = self.lstm1(self.embed(x), state1)
        h, state2 = self.lstm2(self.dropout(h), state2)
        return self.dense(self.dropout(h)), state1, state2


def training_rate(model, ids, vocab, a):
    """Target characters per second over the timed steps."""
    generator = torch.Generator().manual_seed(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    started = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            started = time.perf_counter()
        starts = torch.randint(0, len(ids) - a.seq - 1, (a.batch,), generator=generator)
        batch = torch.stack([ids[s:s + a.seq + 1] for s in starts.tolist()])
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits, _, _ = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    seconds = time.perf_counter() - started
    return a.steps * a.batch * a.seq / seconds


def generation_ms(model, first_id, a):
    """Milliseconds per stateful 50-character generation, sorted."""
    model.eval()
    runs = []
    with torch.no_grad():
        for _ in range(a.runs):
            started = time.perf_counter()
            state1 = state2 = None
            char = torch.tensor([[first_id]])
            for _ in range(50):
                logits, state1, state2 = model(char, state1, state2)
                char = torch.multinomial(torch.softmax(logits[:, -1] / 0.7, -1), 1)
            runs.append((time.perf_counter() - started) * 1000)
    return sorted(runs)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.corpus, encoding="utf-8") as f:
        text = f.read()
    alphabet = sorted(set(text))
    index = {c: i for i, c in enumerate(alphabet)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    model = Baby(len(alphabet))
    rate = training_rate(model, ids, len(alphabet), a)
    runs = generation_ms(model, int(ids[0]), a)
    print(json.dumps({
        "engine": f"torch {torch.__version__}, {a.threads} threads",
        "vocab": len(alphabet),
        "corpus_chars": len(text),
        "batch": a.batch,
        "seq": a.seq,
        "timed_steps": a.steps,
        "seq_train_target_chars_per_s": round(rate),
        "generate_50_chars_ms_median": round(runs[len(runs) // 2], 2),
    }))


if __name__ == "__main__":
    main()
