"""The output layer's arg-max through an int8 screen, checked in fp32 (the greedy decoder's).

On the CPU the output projection (vocabulary × d_model, 80 MB in fp32 for tiny.en) is most of the
per-token time: it is bound by memory bandwidth. `ScreenedHead` reads an int8 copy instead
(a quarter of the bytes) to find the few tokens that can still be the arg-max, with a proven bound
on the int8 error, and computes those candidates' logits exactly in fp32. Any doubt (too many
candidates, a near-tie) falls back to the full fp32 product, so the arg-max is the fp32 one.

Files decode several windows as one batch, with Whisper's timestamp rules: `tokens` screens every
row in one int8 product and computes the timestamp tokens' logits exactly (the rules sum them):
14.4 → ~3 ms a step for 4 rows of tiny.en on this CPU, and the same tokens.
"""

from __future__ import annotations

from typing import TypeGuard

import torch
import torch.nn.functional as F

from dictate.engine.timestamp_rules import TimestampRules

# Above this many candidates the screen saves nothing: compute every logit in fp32. A batch's
# full product costs more than one row's, so its rows may gather more candidates.
MAX_CANDIDATES = 256
MAX_BATCH_CANDIDATES = 1024
# Two exact logits closer than this (relative) are a near-tie: the subset product and the full
# product round differently, so the full product (the one generate() computes) decides.
TIE_RTOL = 1e-4


class ScreenedHead:
    """The output projection's arg-max, found through an int8 screen and checked in fp32.

    For each row i of the weight W, the int8 copy Q_i with scale s_i has a known error
    e_i = W_i − s_i·Q_i. The hidden state x is rounded to int8 too (step s_x, remainder r), and
    the int32 product gives approx_i = s_i·s_x·(Q_i·x_q). By Cauchy–Schwarz
    |W_i·x − approx_i| ≤ ‖e_i‖·‖x‖ + ‖s_i·Q_i‖·‖r‖ (plus fp32 rounding of W_i·x itself), so only
    tokens whose upper bound reaches the best lower bound can be the arg-max.
    """

    def __init__(self, weight: torch.Tensor, rows: int = 4096) -> None:
        w = weight.detach().to(torch.float32)
        self.weight = w
        vocab, n = w.shape
        self.q = torch.empty(vocab, n, dtype=torch.int8)
        self.scale = torch.empty(vocab)
        self.err_x = torch.empty(vocab)
        self.err_r = torch.empty(vocab)
        # fp32 dot products of length n are within ~n·2⁻²⁴·‖W_i‖·‖x‖ of the exact value: that
        # rounding (in generate()'s own product) is part of the bound, doubled for safety.
        rounding = 2.0 * n * 2.0**-24
        for start in range(0, vocab, rows):  # in slices: float64 copies of a large head are big
            part = w[start : start + rows].to(torch.float64)
            scale = (part.abs().amax(dim=1) / 127.0).clamp_min(1e-30)
            q = torch.round(part / scale[:, None]).clamp_(-127, 127)
            deq = q * scale[:, None]
            end = start + part.shape[0]
            self.q[start:end] = q.to(torch.int8)
            self.scale[start:end] = scale.to(torch.float32)
            self.err_x[start:end] = ((part - deq).norm(dim=1) + rounding * part.norm(dim=1)).float()
            self.err_r[start:end] = deq.norm(dim=1).float()
        self.screened = 0
        self.fallbacks = 0

    def bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(approx, bound): int8 estimates of W·x (x: [d_model]) and how far the fp32 W·x can
        be from them."""
        approx, bound = self.bounds_rows(x[None, :])
        return approx[0], bound[0]

    def bounds_rows(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`bounds` for every row of x ([rows, d_model]) in one int8 product."""
        s_x = x.abs().amax(dim=1, keepdim=True) / 127.0
        xq = torch.round(x / s_x).clamp_(-127, 127)
        r = x - xq * s_x
        acc = torch._int_mm(xq.to(torch.int8), self.q.t())
        approx = acc.to(torch.float32) * (self.scale[None, :] * s_x)
        bound = self.err_x[None, :] * x.norm(dim=1, keepdim=True)
        bound += self.err_r[None, :] * r.norm(dim=1, keepdim=True)
        bound += 1e-6 * approx.abs() + 1e-6  # the scaling of approx, rounded in fp32
        return approx, bound

    def argmax(self, x: torch.Tensor, banned: torch.Tensor | None) -> int:
        """arg-max over the vocabulary of W·x (x: [d_model] fp32), `banned` ids excluded."""
        if not bool(x.abs().max() > 0) or not bool(torch.isfinite(x).all()):
            return self._full(x, banned)
        approx, bound = self.bounds(x)
        if banned is not None:
            approx[banned] = float("-inf")
        low = float((approx - bound).max())
        candidates = torch.nonzero(approx + bound >= low).flatten()
        if candidates.numel() > MAX_CANDIDATES:
            return self._full(x, banned)
        exact = F.linear(x, self.weight[candidates])
        if candidates.numel() > 1:
            top = torch.topk(exact, 2)
            best, second = float(top.values[0]), float(top.values[1])
            if best - second <= TIE_RTOL * max(abs(best), 1.0):
                return self._full(x, banned)
        self.screened += 1
        return int(candidates[int(torch.argmax(exact))])

    def tokens(
        self,
        x: torch.Tensor,
        banned: torch.Tensor | None,
        rules: TimestampRules | None = None,
    ) -> list[int] | None:
        """Each row's arg-max of W·x (x: [rows, d_model] fp32) with `banned` excluded and, where
        `rules` are given, Whisper's timestamp rules applied as `rules.apply` does to the full
        logits. None when the screen cannot vouch for every row: the caller computes the full
        product. The timestamp tokens' logits are computed exactly (the log-probability rule
        sums them all: 1.5k of 52k rows); the text tokens go through the screen."""
        if not bool(x.abs().amax(dim=1).min() > 0) or not bool(torch.isfinite(x).all()):
            return None
        approx, bound = self.bounds_rows(x)
        if banned is not None:
            approx[:, banned] = float("-inf")
        vocab = approx.shape[1]
        begin = rules.begin if rules is not None else vocab
        if rules is not None:
            for k in range(x.shape[0]):
                for lo, hi in rules.ranges(k):
                    approx[k, lo:hi] = float("-inf")
            stamps = F.linear(x, self.weight[begin:])
            stamps[torch.isinf(approx[:, begin:])] = float("-inf")
            stamp_ids = torch.arange(begin, vocab)
        out: list[int] = []
        for k in range(x.shape[0]):
            text = approx[k, :begin]
            low = float((text - bound[k, :begin]).max())
            if low == float("-inf"):  # every text token is masked
                candidates = torch.empty(0, dtype=torch.long)
            else:
                candidates = torch.nonzero(text + bound[k, :begin] >= low).flatten()
            if candidates.numel() > MAX_BATCH_CANDIDATES:
                return None
            exact = F.linear(x[k], self.weight[candidates])
            ids = candidates
            if rules is not None:
                row = stamps[k]
                if rules.from_logprob:
                    stamp_mass = float(torch.logsumexp(row, dim=0))
                    best_text = float(exact.max()) if exact.numel() else float("-inf")
                    if _near(stamp_mass, best_text):
                        return None
                    if stamp_mass > best_text:  # a timestamp comes next: text is masked
                        exact, ids = exact[:0], candidates[:0]
                exact, ids = torch.cat([exact, row]), torch.cat([ids, stamp_ids])
            if not exact.numel() or not bool(torch.isfinite(exact).any()):
                return None
            if exact.numel() > 1:
                top = torch.topk(exact, 2)
                if _near(float(top.values[0]), float(top.values[1])):
                    return None
            out.append(int(ids[int(torch.argmax(exact))]))
        self.screened += 1
        return out

    def _full(self, x: torch.Tensor, banned: torch.Tensor | None) -> int:
        self.fallbacks += 1
        logits = F.linear(x, self.weight)
        if banned is not None:
            logits[banned] = float("-inf")
        return int(torch.argmax(logits))


def _near(a: float, b: float) -> bool:
    """Too close to call from a subset product: the full product may round the other way."""
    if a == float("-inf") or b == float("-inf"):
        return False
    return abs(a - b) <= TIE_RTOL * max(abs(a), abs(b), 1.0)


def can_screen(weight: object) -> TypeGuard[torch.Tensor]:
    # A quantised output layer (torch.ao dynamic quantisation) has no float weight to screen.
    if not isinstance(weight, torch.Tensor):
        return False
    if weight.device.type != "cpu" or weight.dtype != torch.float32:
        return False
    try:  # int8 × int8 → int32 on the CPU (torch ≥ 2.2 on x86 and arm64)
        torch._int_mm(torch.ones(1, 32, dtype=torch.int8), torch.ones(32, 8, dtype=torch.int8))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    return True
